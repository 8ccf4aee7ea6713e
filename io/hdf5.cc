#include "io/hdf5.h"

#include <H5Cpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace emkit {

struct Hdf5File::Impl {
  H5::H5File file;
};

namespace {

template <class F>
auto Guard(const std::string& path, const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const H5::Exception& e) {
    throw IoError(path + ": HDF5 error while " + what + ": " + e.getDetailMsg());
  }
}

void WriteDataset(H5::H5File& file, const std::string& path, const std::string& name, const std::vector<uint64_t>& dims,
                  const void* data, const H5::PredType& type, int level) {
  Guard(path, "writing dataset " + name, [&] {
    std::vector<hsize_t> d(dims.begin(), dims.end());
    H5::DataSpace space(static_cast<int>(d.size()), d.data());
    H5::DSetCreatPropList props;
    hsize_t total = 1;
    for (auto v : d) total *= v;
    if (level > 0 && total > 0) {
      // Chunk along the first dimension so row ranges read cheaply.
      std::vector<hsize_t> chunk = d;
      hsize_t row = total / std::max<hsize_t>(d[0], 1);
      chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(d[0], (1 << 20) / std::max<hsize_t>(row, 1)));
      props.setChunk(static_cast<int>(chunk.size()), chunk.data());
      props.setDeflate(level);
    }
    H5::DataSet ds = file.createDataSet(name, type, space, props);
    if (total > 0) ds.write(data, type);
  });
}

}  // namespace

Hdf5File::Hdf5File(std::unique_ptr<Impl> impl, std::string path, std::string tmp)
    : impl_(std::move(impl)), path_(std::move(path)), tmp_(std::move(tmp)) {}
Hdf5File::Hdf5File(Hdf5File&&) noexcept = default;
Hdf5File& Hdf5File::operator=(Hdf5File&&) noexcept = default;

Hdf5File::~Hdf5File() {
  if (impl_ && !tmp_.empty()) {  // never committed: discard
    try {
      impl_->file.close();
    } catch (...) {
    }
    std::remove(tmp_.c_str());
    UnregisterTempFile(tmp_);
  }
}

Hdf5File Hdf5File::Create(const std::string& path) {
  H5::Exception::dontPrint();
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  auto impl = std::make_unique<Impl>();
  RegisterTempFile(tmp);
  try {
    Guard(path, "creating the file", [&] { impl->file = H5::H5File(tmp, H5F_ACC_TRUNC); });
  } catch (...) {
    UnregisterTempFile(tmp);
    throw;
  }
  return Hdf5File(std::move(impl), path, tmp);
}

Hdf5File Hdf5File::OpenReadOnly(const std::string& path) {
  H5::Exception::dontPrint();
  if (!FileExists(path)) throw IoError(path + ": no such file");
  auto impl = std::make_unique<Impl>();
  Guard(path, "opening the file", [&] { impl->file = H5::H5File(path, H5F_ACC_RDONLY); });
  return Hdf5File(std::move(impl), path, "");
}

void Hdf5File::WriteFloats(const std::string& name, const std::vector<uint64_t>& dims, const float* data, int level) {
  WriteDataset(impl_->file, path_, name, dims, data, H5::PredType::NATIVE_FLOAT, level);
}

void Hdf5File::WriteInts(const std::string& name, const std::vector<uint64_t>& dims, const int32_t* data, int level) {
  WriteDataset(impl_->file, path_, name, dims, data, H5::PredType::NATIVE_INT32, level);
}

std::vector<uint64_t> Hdf5File::Dims(const std::string& name) const {
  return Guard(path_, "reading dataset " + name, [&] {
    H5::DataSet ds = impl_->file.openDataSet(name);
    H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> d(space.getSimpleExtentNdims());
    space.getSimpleExtentDims(d.data());
    return std::vector<uint64_t>(d.begin(), d.end());
  });
}

namespace {
template <class T>
std::vector<T> ReadAll(H5::H5File& file, const std::string& path, const std::string& name, const H5::PredType& type,
                       std::vector<uint64_t>* dims_out) {
  return Guard(path, "reading dataset " + name, [&] {
    H5::DataSet ds = file.openDataSet(name);
    H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> d(space.getSimpleExtentNdims());
    space.getSimpleExtentDims(d.data());
    hsize_t total = 1;
    for (auto v : d) total *= v;
    std::vector<T> out(total);
    if (total) ds.read(out.data(), type);
    if (dims_out) dims_out->assign(d.begin(), d.end());
    return out;
  });
}
}  // namespace

std::vector<float> Hdf5File::ReadFloats(const std::string& name, std::vector<uint64_t>* dims) const {
  return ReadAll<float>(impl_->file, path_, name, H5::PredType::NATIVE_FLOAT, dims);
}

std::vector<int32_t> Hdf5File::ReadInts(const std::string& name, std::vector<uint64_t>* dims) const {
  return ReadAll<int32_t>(impl_->file, path_, name, H5::PredType::NATIVE_INT32, dims);
}

std::vector<float> Hdf5File::ReadFloatRows(const std::string& name, uint64_t first, uint64_t count) const {
  return Guard(path_, "reading rows of " + name, [&] {
    H5::DataSet ds = impl_->file.openDataSet(name);
    H5::DataSpace space = ds.getSpace();
    std::vector<hsize_t> d(space.getSimpleExtentNdims());
    space.getSimpleExtentDims(d.data());
    if (d.empty() || first + count > d[0])
      throw IoError(path_ + ": rows " + std::to_string(first) + "+" + std::to_string(count) + " out of range in " +
                    name);
    std::vector<hsize_t> offset(d.size(), 0), extent = d;
    offset[0] = first;
    extent[0] = count;
    space.selectHyperslab(H5S_SELECT_SET, extent.data(), offset.data());
    hsize_t total = 1;
    for (auto v : extent) total *= v;
    H5::DataSpace mem(static_cast<int>(extent.size()), extent.data());
    std::vector<float> out(total);
    if (total) ds.read(out.data(), H5::PredType::NATIVE_FLOAT, mem, space);
    return out;
  });
}

bool Hdf5File::HasDataset(const std::string& name) const {
  return Guard(path_, "looking up " + name, [&] { return impl_->file.nameExists(name); });
}

void Hdf5File::SetAttribute(const std::string& name, const std::string& value) {
  Guard(path_, "writing attribute " + name, [&] {
    H5::StrType type(H5::PredType::C_S1, std::max<std::size_t>(1, value.size()));
    H5::Attribute a = impl_->file.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
    a.write(type, value.empty() ? std::string(" ") : value);
  });
}

void Hdf5File::SetAttribute(const std::string& name, double value) {
  Guard(path_, "writing attribute " + name, [&] {
    H5::Attribute a = impl_->file.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR));
    a.write(H5::PredType::NATIVE_DOUBLE, &value);
  });
}

std::string Hdf5File::GetStringAttribute(const std::string& name) const {
  return Guard(path_, "reading attribute " + name, [&] {
    H5::Attribute a = impl_->file.openAttribute(name);
    std::string v;
    a.read(a.getStrType(), v);
    return v;
  });
}

double Hdf5File::GetNumberAttribute(const std::string& name) const {
  return Guard(path_, "reading attribute " + name, [&] {
    H5::Attribute a = impl_->file.openAttribute(name);
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  });
}

bool Hdf5File::HasAttribute(const std::string& name) const {
  return Guard(path_, "looking up attribute " + name, [&] { return impl_->file.attrExists(name); });
}

void Hdf5File::Commit() {
  if (tmp_.empty()) return;
  Guard(path_, "closing the file", [&] { impl_->file.close(); });
  std::error_code ec;
  std::filesystem::rename(tmp_, path_, ec);
  UnregisterTempFile(tmp_);
  if (ec) throw IoError(path_ + ": cannot rename into place: " + ec.message());
  tmp_.clear();
  NoteOutputFile(path_);
}

}  // namespace emkit
