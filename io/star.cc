#include "io/star.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace emkit {

int StarTable::Column(const std::string& label) const {
  auto it = index_.find(label);
  return it == index_.end() ? -1 : it->second;
}

int StarTable::RequireColumn(const std::string& label) const {
  const int c = Column(label);
  if (c < 0)
    throw IoError((source_.empty() ? std::string("STAR") : source_) + ": block data_" + name_ + " has no column _" +
                  label);
  return c;
}

std::string StarTable::Where(std::size_t row) const {
  const std::string src = source_.empty() ? "STAR" : source_;
  if (row < lines_.size() && lines_[row] > 0) return src + ":" + std::to_string(lines_[row]);
  return src + " block data_" + name_ + " row " + std::to_string(row + 1);
}

const std::string& StarTable::Get(std::size_t row, const std::string& label) const {
  const int c = RequireColumn(label);
  if (row >= rows_.size()) throw InternalError(Where(row) + ": row out of range");
  return rows_[row][c];
}

double StarTable::ToDouble(std::size_t row, int column) const {
  const std::string& s = rows_[row][column];
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    throw IoError(Where(row) + ": field _" + labels_[column] + " = '" + s + "' is not a finite number");
  return v;
}

double StarTable::GetDouble(std::size_t row, const std::string& label) const {
  return ToDouble(row, RequireColumn(label));
}

double StarTable::GetDouble(std::size_t row, const std::string& label, double fallback) const {
  const int c = Column(label);
  return c < 0 ? fallback : ToDouble(row, c);
}

long StarTable::GetInt(std::size_t row, const std::string& label) const {
  const int c = RequireColumn(label);
  const std::string& s = rows_[row][c];
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE)
    throw IoError(Where(row) + ": field _" + label + " = '" + s + "' is not an integer");
  return v;
}

int StarTable::AddColumn(const std::string& label, const std::string& fill) {
  const int c = Column(label);
  if (c >= 0) return c;
  labels_.push_back(label);
  index_[label] = static_cast<int>(labels_.size()) - 1;
  for (auto& r : rows_) r.push_back(fill);
  return static_cast<int>(labels_.size()) - 1;
}

void StarTable::AddRow(std::vector<std::string> values, long source_line) {
  if (values.size() != labels_.size())
    throw InternalError(Where(rows_.size()) + ": row has " + std::to_string(values.size()) + " values for " +
                        std::to_string(labels_.size()) + " columns");
  rows_.push_back(std::move(values));
  lines_.push_back(source_line);
}

void StarTable::Set(std::size_t row, const std::string& label, const std::string& value) {
  const int c = AddColumn(label);
  rows_.at(row)[c] = value;
}

void StarTable::Set(std::size_t row, const std::string& label, double value) {
  Set(row, label, FormatStarNumber(value));
}

void StarTable::SetPair(const std::string& label, const std::string& value) {
  is_loop_ = false;
  if (rows_.empty()) {
    rows_.emplace_back(labels_.size());
    lines_.push_back(0);
  }
  Set(0, label, value);
}

void StarTable::SetPair(const std::string& label, double value) { SetPair(label, FormatStarNumber(value)); }

const StarTable* StarFile::Find(const std::string& name) const {
  for (const auto& b : blocks)
    if (b.name() == name) return &b;
  return nullptr;
}

StarTable* StarFile::Find(const std::string& name) {
  for (auto& b : blocks)
    if (b.name() == name) return &b;
  return nullptr;
}

const StarTable& StarFile::Require(const std::string& name) const {
  const StarTable* t = Find(name);
  if (!t) throw IoError((path.empty() ? std::string("STAR") : path) + ": no block data_" + name);
  return *t;
}

// Splits a line into tokens: whitespace-separated, quotes ('..' or "..") group, '#' outside
// quotes starts a comment, [a, b] brackets group (RELION 5 list values). quoted[i] says whether
// token i was quoted: a quoted token is always a value, never data_, loop_ or a _label.
class StarParser {
 public:
  static bool Tokenize(const std::string& line, std::vector<std::string>* out, std::vector<bool>* quoted,
                       std::string* error) {
    out->clear();
    quoted->clear();
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (i < n) {
      while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i >= n || line[i] == '#') break;
      if (line[i] == '"' || line[i] == '\'') {
        const char q = line[i];
        std::size_t j = i + 1;
        // Closing quote must be followed by whitespace or end of line (STAR rule).
        while (j < n && !(line[j] == q && (j + 1 == n || std::isspace(static_cast<unsigned char>(line[j + 1]))))) ++j;
        if (j >= n) {
          *error = "unterminated quoted string";
          return false;
        }
        out->push_back(line.substr(i + 1, j - i - 1));
        quoted->push_back(true);
        i = j + 1;
      } else if (line[i] == '[') {
        std::size_t j = line.find(']', i);
        if (j == std::string::npos) {
          *error = "unterminated [ list value";
          return false;
        }
        out->push_back(line.substr(i, j - i + 1));
        quoted->push_back(false);
        i = j + 1;
      } else {
        std::size_t j = i;
        while (j < n && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
        out->push_back(line.substr(i, j - i));
        quoted->push_back(false);
        i = j;
      }
    }
    return true;
  }

  static StarFile Parse(const std::string& text, const std::string& source) {
    StarFile file;
    file.path = source;
    auto fail = [&](long line, const std::string& what) -> void {
      throw IoError(source + ":" + std::to_string(line) + ": " + what);
    };
    StarTable* cur = nullptr;
    enum { kNone, kBlock, kLoopHeader, kLoopRows } state = kNone;
    std::istringstream in(text);
    std::string line;
    long lineno = 0;
    std::vector<std::string> tok;
    std::vector<bool> quoted;
    std::string err;
    while (std::getline(in, line)) {
      ++lineno;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find('\0') != std::string::npos) fail(lineno, "binary data (NUL byte) in a STAR file");
      // "# version 30001" comment lines carry RELION's version.
      {
        std::size_t p = line.find_first_not_of(" \t");
        if (p != std::string::npos && line.compare(p, 9, "# version") == 0) {
          file.version = std::atoi(line.c_str() + p + 9);
          continue;
        }
        if (p != std::string::npos && line.compare(p, 16, "# RELION; version") == 0) continue;
      }
      if (!Tokenize(line, &tok, &quoted, &err)) fail(lineno, err);
      if (tok.empty()) continue;
      const std::string& t0 = tok[0];
      const bool keyword = !quoted[0];  // '_x' or "loop_" in quotes are values
      if (keyword && t0.compare(0, 5, "data_") == 0) {
        if (tok.size() > 1) fail(lineno, "unexpected text after " + t0);
        file.blocks.emplace_back(t0.substr(5), false);
        cur = &file.blocks.back();
        cur->source_ = source;
        state = kBlock;
        continue;
      }
      if (keyword && t0 == "loop_") {
        if (!cur) fail(lineno, "loop_ outside a data_ block");
        if (cur->is_loop_ || !cur->labels_.empty()) {
          // A second table in one block: RELION never writes that; treat as an error.
          fail(lineno, "second loop_ or loop_ after values in block data_" + cur->name_);
        }
        cur->is_loop_ = true;
        state = kLoopHeader;
        continue;
      }
      if (!cur) fail(lineno, "content before the first data_ block");
      if (keyword && t0[0] == '_') {
        const std::string label = t0.substr(1);
        if (label.empty()) fail(lineno, "empty label");
        if (state == kLoopRows) fail(lineno, "label " + t0 + " after the rows of the loop in block data_" + cur->name_);
        if (cur->index_.count(label)) fail(lineno, "duplicate column " + t0 + " in block data_" + cur->name_);
        cur->labels_.push_back(label);
        cur->index_[label] = static_cast<int>(cur->labels_.size()) - 1;
        if (state == kLoopHeader) {
          // "_label #N" is RELION's column numbering; anything else after the label is an error.
          if (tok.size() > 2 || (tok.size() == 2 && tok[1][0] != '#'))
            fail(lineno, "unexpected text after loop label " + t0);
        } else {
          if (tok.size() != 2)
            fail(lineno, "label " + t0 + " needs exactly one value, found " + std::to_string(tok.size() - 1));
          if (cur->rows_.empty()) {
            cur->rows_.emplace_back();
            cur->lines_.push_back(lineno);
          }
          cur->rows_[0].push_back(tok[1]);
        }
        continue;
      }
      if (state == kLoopHeader || state == kLoopRows) {
        if (cur->labels_.empty()) fail(lineno, "loop_ without labels in block data_" + cur->name_);
        if (tok.size() != cur->labels_.size())
          fail(lineno, "row has " + std::to_string(tok.size()) + " values but block data_" + cur->name_ + " has " +
                           std::to_string(cur->labels_.size()) + " columns");
        cur->rows_.push_back(tok);
        cur->lines_.push_back(lineno);
        state = kLoopRows;
        continue;
      }
      fail(lineno, "value '" + t0 + "' without a label");
    }
    return file;
  }
};

StarFile ParseStar(const std::string& text, const std::string& source) { return StarParser::Parse(text, source); }

StarFile ReadStar(const std::string& path) {
  if (!FileExists(path)) throw IoError(path + ": no such file");
  return ParseStar(ReadTextFile(path), path);
}

std::string FormatStarNumber(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e9) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (std::fabs(v) >= 1e-3 && std::fabs(v) < 1e7) {
    std::snprintf(buf, sizeof buf, "%.6f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6e", v);
  }
  return buf;
}

namespace {
std::string Quote(const std::string& v) {
  if (v.empty()) return "\"\"";
  bool needs =
      v[0] == '_' || v[0] == '#' || v[0] == '\'' || v[0] == '"' || v.compare(0, 5, "data_") == 0 || v == "loop_";
  for (char c : v) needs |= std::isspace(static_cast<unsigned char>(c)) != 0;
  // The parser reads an unquoted [ up to the first ] as one value (RELION's lists): v can stay
  // bare only if that is all of it ("[_" or "[a]b" must be quoted; found by fuzz.star).
  const bool list = v[0] == '[' && v.find(']') == v.size() - 1;
  if (v[0] == '[' && !list) needs = true;
  if (!needs || list) return v;
  // A quote closes a quoted value only when whitespace follows it (the parser's rule), so a
  // quote character can wrap v when v never has it followed by whitespace.
  auto can_wrap = [&](char q) {
    for (std::size_t i = 0; i + 1 < v.size(); ++i)
      if (v[i] == q && std::isspace(static_cast<unsigned char>(v[i + 1]))) return false;
    return true;
  };
  if (can_wrap('"')) return "\"" + v + "\"";
  if (can_wrap('\'')) return "'" + v + "'";
  throw InvalidInputError("STAR value cannot be quoted (it has both a \" and a ' followed by whitespace): " + v);
}
}  // namespace

std::string FormatStar(const StarFile& file) {
  std::ostringstream out;
  for (const auto& b : file.blocks) {
    out << "\n# version " << (file.version ? file.version : 30001) << "\n\ndata_" << b.name() << "\n\n";
    if (b.is_loop()) {
      out << "loop_ \n";
      for (std::size_t c = 0; c < b.labels().size(); ++c) out << "_" << b.labels()[c] << " #" << c + 1 << " \n";
      for (std::size_t r = 0; r < b.num_rows(); ++r) {
        const auto& row = b.row(r);
        for (std::size_t c = 0; c < row.size(); ++c) out << (c ? " " : "") << Quote(row[c]);
        out << " \n";
      }
    } else {
      for (std::size_t c = 0; c < b.labels().size(); ++c)
        out << "_" << b.labels()[c] << "  " << (b.num_rows() ? Quote(b.row(0)[c]) : "\"\"") << "\n";
    }
    out << " \n";
  }
  return out.str();
}

void WriteStar(const std::string& path, const StarFile& file) { WriteTextFile(path, FormatStar(file)); }

}  // namespace emkit
