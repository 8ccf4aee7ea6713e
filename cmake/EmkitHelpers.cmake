set(EMKIT_WARNINGS -Wall -Wextra -Wno-unused-parameter)

# emkit_add_library(NAME SRCS a.cc b.cc PUBLIC_LIBS ... PRIVATE_LIBS ...)
function(emkit_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(${name} STATIC ${ARG_SRCS})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${EMKIT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_LIBS} PRIVATE ${ARG_PRIVATE_LIBS})
endfunction()

# emkit_add_test(NAME SRCS a_test.cc LINK_LIBS ... LABELS unit|slow|mpi|relion)
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
    set(ARG_TIMEOUT 600)
  endif()
  include(GoogleTest)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
