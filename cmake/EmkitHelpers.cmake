set(EMKIT_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# emkit_add_library(NAME SRCS a.cc b.cc PUBLIC_LIBS ... PRIVATE_LIBS ...)
# Shared, so that the emkit binary and its plugin (apps/) share one copy of every library and
# its state (command table, FFT plans, thread counts).
function(emkit_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} SHARED ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${EMKIT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
endfunction()

# emkit_add_module(NAME [EXCLUDE a.cc ...] PUBLIC_LIBS ... PRIVATE_LIBS ... TEST_LIBS ...)
# The library of one folder: every .cc except *_test.cc, *_fuzz.cc and EXCLUDE. Its tests:
#   *_test.cc (not *_slow_test.cc / *_mpi_test.cc) -> <folder>_test, label "unit"
#   *_slow_test.cc                                  -> <folder>_slow_test, label "slow"
function(emkit_add_module name)
  cmake_parse_arguments(ARG "" "" "EXCLUDE;PUBLIC_LIBS;PRIVATE_LIBS;TEST_LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "_(test|fuzz)\\.cc$")
  foreach(x ${ARG_EXCLUDE})
    list(REMOVE_ITEM srcs ${CMAKE_CURRENT_SOURCE_DIR}/${x})
  endforeach()
  emkit_add_library(${name} SRCS ${srcs} PUBLIC_LIBS ${ARG_PUBLIC_LIBS} PRIVATE_LIBS ${ARG_PRIVATE_LIBS})
  get_filename_component(folder ${CMAKE_CURRENT_SOURCE_DIR} NAME)
  file(GLOB tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  set(unit_tests ${tests})
  list(FILTER unit_tests EXCLUDE REGEX "_(slow|mpi)_test\\.cc$")
  set(slow_tests ${tests})
  list(FILTER slow_tests INCLUDE REGEX "_slow_test\\.cc$")
  if(unit_tests)
    emkit_add_test(${folder}_test SRCS ${unit_tests} LINK_LIBS ${name} ${ARG_TEST_LIBS} LABELS unit)
  endif()
  if(slow_tests)
    emkit_add_test(${folder}_slow_test SRCS ${slow_tests} LINK_LIBS ${name} ${ARG_TEST_LIBS} LABELS slow)
  endif()
endfunction()

# emkit_add_test(NAME SRCS a_test.cc LINK_LIBS ... LABELS unit|slow|mpi|relion|fuzz)
# One executable per call; every TEST() inside becomes its own CTest test.
function(emkit_add_test name)
  if(NOT EMKIT_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SRCS;LINK_LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE ${EMKIT_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    EMKIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    EMKIT_BINARY="$<TARGET_FILE:emkit>")
  target_link_libraries(${name} PRIVATE ${ARG_LINK_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 900)
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
