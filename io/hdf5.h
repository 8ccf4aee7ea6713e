// A small typed layer over HDF5 for training sets and caches: float/int datasets with
// chunking and gzip compression, string/number attributes on the file. H5Cpp stays in the .cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace emkit {

class Hdf5File {
 public:
  // A new file written under a temporary name; Commit() closes it and renames it into place
  // (an interrupted writer leaves no file that looks whole).
  static Hdf5File Create(const std::string& path);
  static Hdf5File OpenReadOnly(const std::string& path);
  Hdf5File(Hdf5File&&) noexcept;
  Hdf5File& operator=(Hdf5File&&) noexcept;
  ~Hdf5File();

  void WriteFloats(const std::string& name, const std::vector<uint64_t>& dims, const float* data,
                   int compression_level = 4);
  void WriteInts(const std::string& name, const std::vector<uint64_t>& dims, const int32_t* data,
                 int compression_level = 4);
  std::vector<float> ReadFloats(const std::string& name, std::vector<uint64_t>* dims = nullptr) const;
  std::vector<int32_t> ReadInts(const std::string& name, std::vector<uint64_t>* dims = nullptr) const;
  // Reads rows [first, first + count) along the first dimension.
  std::vector<float> ReadFloatRows(const std::string& name, uint64_t first, uint64_t count) const;
  bool HasDataset(const std::string& name) const;
  std::vector<uint64_t> Dims(const std::string& name) const;

  void SetAttribute(const std::string& name, const std::string& value);
  void SetAttribute(const std::string& name, double value);
  std::string GetStringAttribute(const std::string& name) const;
  double GetNumberAttribute(const std::string& name) const;
  bool HasAttribute(const std::string& name) const;

  void Commit();
  const std::string& path() const { return path_; }

 private:
  struct Impl;
  Hdf5File(std::unique_ptr<Impl> impl, std::string path, std::string tmp);
  std::unique_ptr<Impl> impl_;
  std::string path_, tmp_;
};

}  // namespace emkit
