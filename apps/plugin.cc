// The emkit plugin (libemkit_plugin.so): the commands that need OpenCV or LibTorch (pick,
// train, extract, eval-picks, info) register themselves when the emkit binary loads it
// (apps/command_line.cc). Loading it also makes OpenCV's and torch's thread pools follow
// --threads.
#include "core/parallel.h"
#include "io/micrograph.h"
#include "models/device.h"

namespace {

const bool registered = [] {
  emkit::AddThreadCountListener(&emkit::SetImageLibraryThreads);
  emkit::AddThreadCountListener(&emkit::SetTorchThreads);
  return true;
}();

}  // namespace
