// File helpers: atomic output (write to a temporary name, rename when complete), paths.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace emkit {

// Calls write(tmp_path) and renames tmp_path to path when it returns; on exception the
// temporary file is removed and the exception propagates. The parent folder must exist.
void WriteAtomically(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Writes text (or any bytes, e.g. an encoded PNG) atomically.
void WriteTextFile(const std::string& path, const std::string& text);
void WriteBinaryFile(const std::string& path, const std::vector<unsigned char>& bytes);
std::string ReadTextFile(const std::string& path);

bool FileExists(const std::string& path);
void CreateDirectories(const std::string& path);
std::string JoinPath(const std::string& a, const std::string& b);
std::string Basename(const std::string& path);        // "dir/x.mrc" -> "x.mrc"
std::string StripExtension(const std::string& name);  // "x.mrc" -> "x"
std::string Extension(const std::string& path);       // ".mrc", lower case
std::string ParentDir(const std::string& path);
// A relative file name from a STAR file, resolved as RELION does: against the working folder
// (RELION's project folder) first, else beside the STAR file (`star_dir`). Warns once per name
// when both exist and are different files. Returns `name` unchanged when neither exists.
std::string ResolveBesideStar(const std::string& name, const std::string& star_dir);

// Temporary outputs being written (WriteAtomically registers its own): the handlers installed by
// InstallTempFileCleanup remove every registered file on SIGINT, SIGTERM or SIGHUP, then
// re-raise the signal, so an interrupted job leaves no *.tmp.* behind.
void RegisterTempFile(const std::string& path);
void UnregisterTempFile(const std::string& path);
void InstallTempFileCleanup();

// Called with the final path of every output renamed into place (WriteAtomically, and writers
// with their own temporary files), e.g. to record a job's files. nullptr: none.
using OutputObserver = std::function<void(const std::string& path)>;
void SetOutputObserver(OutputObserver observer);
void NoteOutputFile(const std::string& path);

}  // namespace emkit
