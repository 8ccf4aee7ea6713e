// Communication between the processes of one job, behind an MPI-free interface.
// A single-rank communicator serves plain runs and tests; under `mpirun` MakeCommunicator()
// returns the MPI implementation (communicator_mpi.cc is the only file that includes mpi.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace emkit {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool is_root() const { return rank() == 0; }
  // Element-wise sum over all ranks, result on every rank. Integer sums are exact, so the
  // result does not depend on the number of ranks or their order.
  virtual void SumInt128(std::vector<__int128>* values) = 0;
  // Concatenation of every rank's bytes in rank order, on every rank.
  virtual std::vector<char> AllGatherBytes(const std::vector<char>& mine) = 0;
  virtual void Barrier() = 0;
  // Every rank learns whether any rank failed (so all stop together instead of hanging).
  virtual bool AnyTrue(bool mine) = 0;
};

class SingleRankCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void SumInt128(std::vector<__int128>*) override {}
  std::vector<char> AllGatherBytes(const std::vector<char>& mine) override { return mine; }
  void Barrier() override {}
  bool AnyTrue(bool mine) override { return mine; }
};

// True when this process was started by mpirun/srun (Open MPI, MPICH or PMI variables set).
bool LaunchedUnderMpi();
// MPI communicator when launched under MPI (initialising MPI), the single-rank one otherwise.
std::unique_ptr<Communicator> MakeCommunicator();

}  // namespace emkit
