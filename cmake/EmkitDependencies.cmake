# Every dependency comes from Debian 12 packages (see scripts/setup-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)

pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
find_library(FFTW3F_THREADS_LIB NAMES fftw3f_threads REQUIRED)
add_library(emkit_fftw INTERFACE)
target_link_libraries(emkit_fftw INTERFACE ${FFTW3F_THREADS_LIB} PkgConfig::FFTW3F)

find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs)
find_package(PNG REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C CXX)
find_package(MPI REQUIRED COMPONENTS CXX)
find_package(nlohmann_json REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(GTest REQUIRED)
pkg_check_modules(HEALPIX REQUIRED IMPORTED_TARGET healpix_cxx)

# LibTorch is only linked (PRIVATE) by models/ and training/.
find_package(Torch REQUIRED)
find_package(dnnl QUIET)
if(EMKIT_BUILD_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
