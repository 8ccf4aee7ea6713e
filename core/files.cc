#include "core/files.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace emkit {
namespace {

// Fixed slots the signal handler can read without locks or allocation: state 0 free, 1 being
// filled or emptied, 2 holds a path.
constexpr int kTempSlots = 256;
constexpr std::size_t kTempPathMax = 4096;
struct TempSlot {
  std::atomic<int> state{0};
  char path[kTempPathMax];
};
TempSlot temp_slots[kTempSlots];

extern "C" void RemoveTempFilesAndReraise(int sig) {
  for (TempSlot& s : temp_slots)
    if (s.state.load() == 2) unlink(s.path);
  signal(sig, SIG_DFL);
  raise(sig);
}

std::mutex observer_mutex;
OutputObserver& Observer() {
  static OutputObserver observer;
  return observer;
}

}  // namespace

void RegisterTempFile(const std::string& path) {
  if (path.size() >= kTempPathMax) return;
  for (TempSlot& s : temp_slots) {
    int free_state = 0;
    if (s.state.compare_exchange_strong(free_state, 1)) {
      std::memcpy(s.path, path.c_str(), path.size() + 1);
      s.state.store(2);
      return;
    }
  }
  // All slots taken: this file is still removed on errors, only not on a signal.
}

void UnregisterTempFile(const std::string& path) {
  for (TempSlot& s : temp_slots) {
    int held = 2;
    if (s.state.load() == 2 && path == s.path && s.state.compare_exchange_strong(held, 1)) {
      s.state.store(0);
      return;
    }
  }
}

void InstallTempFileCleanup() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring
    struct sigaction sa {};
    sa.sa_handler = &RemoveTempFilesAndReraise;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
}

void SetOutputObserver(OutputObserver observer) {
  std::lock_guard<std::mutex> lock(observer_mutex);
  Observer() = std::move(observer);
}

void NoteOutputFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(observer_mutex);
  if (Observer()) Observer()(path);
}

void WriteAtomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  static std::atomic<int> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter.fetch_add(1));
  RegisterTempFile(tmp);
  try {
    write(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    UnregisterTempFile(tmp);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  UnregisterTempFile(tmp);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw IoError(path + ": cannot rename temporary output into place: " + why);
  }
  NoteOutputFile(path);
}

void WriteTextFile(const std::string& path, const std::string& text) {
  WriteAtomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw IoError(path + ": cannot open for writing");
    out << text;
    out.flush();
    if (!out) throw IoError(path + ": write failed");
  });
}

void WriteBinaryFile(const std::string& path, const std::vector<unsigned char>& bytes) {
  WriteAtomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw IoError(path + ": cannot open for writing");
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw IoError(path + ": write failed");
  });
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open (missing file or no permission)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void CreateDirectories(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw IoError(path + ": cannot create directory: " + ec.message());
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty() || (!b.empty() && b[0] == '/')) return b;
  return (fs::path(a) / b).string();
}

std::string Basename(const std::string& path) { return fs::path(path).filename().string(); }

std::string StripExtension(const std::string& name) {
  const auto slash = name.find_last_of('/');
  const auto dot = name.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return name;
  return name.substr(0, dot);
}

std::string Extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

std::string ParentDir(const std::string& path) { return fs::path(path).parent_path().string(); }

namespace {
bool SameContents(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (std::filesystem::equivalent(a, b, ec)) return true;
  if (std::filesystem::file_size(a, ec) != std::filesystem::file_size(b, ec)) return false;
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 16), bb(1 << 16);  // the first 64 KiB: headers and first pixels
  fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
  fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
  return fa.gcount() == fb.gcount() && std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin());
}
}  // namespace

std::string ResolveBesideStar(const std::string& name, const std::string& star_dir) {
  if (name.empty() || name[0] == '/' || star_dir.empty()) return name;
  const std::string beside = JoinPath(star_dir, name);
  const bool here = FileExists(name);
  if (!here) return FileExists(beside) ? beside : name;
  if (FileExists(beside) && !SameContents(name, beside)) {
    static std::mutex mutex;
    static std::set<std::string> warned;
    std::lock_guard<std::mutex> lock(mutex);
    if (warned.insert(name).second)
      LOG_WARN(name << " exists both in the working folder and beside the STAR file (" << beside
                    << ") and they differ: using " << name << " (relative names are read from the working folder, "
                    << "as RELION does)");
  }
  return name;
}

}  // namespace emkit
