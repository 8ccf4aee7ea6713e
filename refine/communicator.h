// Communication between the processes of one job, behind an MPI-free interface.
// A single-rank communicator serves plain runs and tests; under `mpirun` MakeCommunicator()
// returns the MPI implementation (communicator_mpi.cc is the only file that includes mpi.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace emkit {

// Thrown on the ranks that learn at an agreement point (AnyTrue) that another rank failed: that
// rank reports its own error.
class OtherRankFailedError : public Error {
 public:
  using Error::Error;
};

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
  // Ends every rank now with `code` (MPI_Abort), after printing `message` (one line on stderr):
  // for an error on one rank outside an agreement point, where the others would wait forever in
  // their next collective. A single rank returns (its caller reports the error as usual).
  virtual void AbortAll(const std::string& message, int code) = 0;
};

class SingleRankCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void SumInt128(std::vector<__int128>*) override {}
  std::vector<char> AllGatherBytes(const std::vector<char>& mine) override { return mine; }
  void Barrier() override {}
  bool AnyTrue(bool mine) override { return mine; }
  void AbortAll(const std::string&, int) override {}
};

// Runs `body` (the part of a job where ranks talk to each other). An exception on one rank that
// the others cannot know about ends every rank through AbortAll with the message; one that all
// ranks agreed on (OtherRankFailedError on the others) propagates as usual.
template <class F>
void RunOnAllRanks(Communicator& comm, const std::string& what, F&& body) {
  try {
    body();
  } catch (const OtherRankFailedError&) {
    throw;
  } catch (const std::exception& e) {
    if (comm.size() > 1) comm.AbortAll(what + ": error: " + e.what(), 1);
    throw;
  }
}

// The largest of every rank's peak resident set so far (PeakMemoryMb), on every rank (a collective:
// every rank calls it at the same point).
double LargestPeakMemoryMb(Communicator& comm);

// True when this process was started by mpirun/srun (Open MPI, MPICH or PMI variables set).
bool LaunchedUnderMpi();
// MPI communicator when launched under MPI (initialising MPI), the single-rank one otherwise.
std::unique_ptr<Communicator> MakeCommunicator();

}  // namespace emkit
