// STAR files as RELION writes them (3.0, 3.1, 5.0): blocks of `_label value` pairs or
// `loop_` tables. Values are kept as the text tokens they were read as, so a file
// round-trips without loss; typed getters convert and report file, line and label on error.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace emkit {

class StarTable {
 public:
  StarTable() = default;
  explicit StarTable(std::string name, bool is_loop = true) : name_(std::move(name)), is_loop_(is_loop) {}

  const std::string& name() const { return name_; }
  void set_name(const std::string& name) { name_ = name; }
  bool is_loop() const { return is_loop_; }
  void set_loop(bool loop) { is_loop_ = loop; }
  const std::vector<std::string>& labels() const { return labels_; }
  std::size_t num_rows() const { return rows_.size(); }
  const std::vector<std::string>& row(std::size_t i) const { return rows_[i]; }

  // Label without the leading underscore, e.g. "rlnImageName". -1 when absent.
  int Column(const std::string& label) const;
  bool Has(const std::string& label) const { return Column(label) >= 0; }
  // Column index, or an error naming the file and block when the label is missing.
  int RequireColumn(const std::string& label) const;

  const std::string& Get(std::size_t row, const std::string& label) const;
  double GetDouble(std::size_t row, const std::string& label) const;
  double GetDouble(std::size_t row, const std::string& label, double fallback) const;
  long GetInt(std::size_t row, const std::string& label) const;
  double ToDouble(std::size_t row, int column) const;

  // Adds a column (value for every existing row); returns its index. Existing: no-op.
  int AddColumn(const std::string& label, const std::string& fill = "0");
  void AddRow(std::vector<std::string> values, long source_line = 0);
  void Set(std::size_t row, const std::string& label, const std::string& value);
  void Set(std::size_t row, const std::string& label, double value);
  // For pair blocks (not loops): one implicit row.
  void SetPair(const std::string& label, const std::string& value);
  void SetPair(const std::string& label, double value);
  void Reserve(std::size_t rows) { rows_.reserve(rows); }

  // Where row i came from, for messages ("file.star:123" or "file.star block data_x").
  std::string Where(std::size_t row) const;
  void set_source(const std::string& path) { source_ = path; }
  const std::string& source() const { return source_; }

 private:
  friend class StarParser;
  std::string name_;
  bool is_loop_ = true;
  std::vector<std::string> labels_;
  std::map<std::string, int> index_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<long> lines_;
  std::string source_;
};

struct StarFile {
  std::string path;
  std::vector<StarTable> blocks;
  // RELION's "# version 30001" (0 when absent).
  int version = 0;

  const StarTable* Find(const std::string& name) const;
  StarTable* Find(const std::string& name);
  const StarTable& Require(const std::string& name) const;
  StarTable& Add(StarTable table) {
    blocks.push_back(std::move(table));
    return blocks.back();
  }
};

// Parses text; `source` names it in errors. Throws IoError with file:line.
StarFile ParseStar(const std::string& text, const std::string& source);
StarFile ReadStar(const std::string& path);
std::string FormatStar(const StarFile& file);
// Atomic write.
void WriteStar(const std::string& path, const StarFile& file);

// Formats a number the way RELION does for floats (fixed or scientific, 6 significant digits).
std::string FormatStarNumber(double v);

}  // namespace emkit
