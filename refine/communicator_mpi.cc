// The only file that includes MPI.
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/memory_usage.h"
#include "refine/communicator.h"

namespace emkit {
namespace {

void SumInt128Op(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const __int128*>(in);
  auto* b = static_cast<__int128*>(inout);
  for (int i = 0; i < *len; ++i) b[i] += a[i];
}

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      owns_ = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Type_contiguous(16, MPI_BYTE, &int128_);
    MPI_Type_commit(&int128_);
    MPI_Op_create(&SumInt128Op, 1, &sum_op_);
  }
  ~MpiCommunicator() override {
    MPI_Op_free(&sum_op_);
    MPI_Type_free(&int128_);
    if (owns_) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void SumInt128(std::vector<__int128>* values) override {
    // Chunks keep each message under 2^31 elements.
    const std::size_t chunk = 1 << 24;
    for (std::size_t off = 0; off < values->size(); off += chunk) {
      const int n = static_cast<int>(std::min(chunk, values->size() - off));
      MPI_Allreduce(MPI_IN_PLACE, values->data() + off, n, int128_, sum_op_, MPI_COMM_WORLD);
    }
  }
  std::vector<char> AllGatherBytes(const std::vector<char>& mine) override {
    int n = static_cast<int>(mine.size());
    std::vector<int> counts(size_), displs(size_);
    MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    long total = 0;
    for (int r = 0; r < size_; ++r) {
      displs[r] = static_cast<int>(total);
      total += counts[r];
    }
    std::vector<char> all(static_cast<std::size_t>(total));
    MPI_Allgatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
    return all;
  }
  void Barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  bool AnyTrue(bool mine) override {
    int v = mine ? 1 : 0, any = 0;
    MPI_Allreduce(&v, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any != 0;
  }
  void AbortAll(const std::string& message, int code) override {
    std::fprintf(stderr, "%s (MPI rank %d of %d; ending every rank)\n", message.c_str(), rank_, size_);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);  // MPI_Abort does not return; in case it does
  }

 private:
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
  MPI_Datatype int128_;
  MPI_Op sum_op_;
};

}  // namespace

double LargestPeakMemoryMb(Communicator& comm) {
  const double mine = PeakMemoryMb();
  std::vector<char> bytes(sizeof mine);
  std::memcpy(bytes.data(), &mine, sizeof mine);
  const std::vector<char> all = comm.AllGatherBytes(bytes);
  double largest = 0;
  for (std::size_t i = 0; i + sizeof mine <= all.size(); i += sizeof mine) {
    double v;
    std::memcpy(&v, &all[i], sizeof v);
    largest = std::max(largest, v);
  }
  return largest;
}

bool LaunchedUnderMpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

std::unique_ptr<Communicator> MakeCommunicator() {
  if (LaunchedUnderMpi()) return std::make_unique<MpiCommunicator>();
  return std::make_unique<SingleRankCommunicator>();
}

}  // namespace emkit
