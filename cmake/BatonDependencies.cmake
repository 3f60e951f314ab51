# Finds every dependency once and records what optional support is compiled in.
# Debian 12: libtorch-dev 1.13 (CPU). CUDA host: PyTorch's libtorch 2.x, NCCL from
# its wheel, ZeroMQ from the bundle of ../shared/gpu (see docs/building.md).

find_package(Torch REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
# Link protobuf by file: pip's libtorch (protobuf linked in statically) may
# have defined an empty protobuf::libprotobuf target before we looked.
add_library(baton_protobuf INTERFACE)
target_link_libraries(baton_protobuf INTERFACE ${Protobuf_LIBRARIES})
target_include_directories(baton_protobuf SYSTEM INTERFACE ${Protobuf_INCLUDE_DIRS})
find_package(spdlog REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PNG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp HINTS ${ZMQ_INCLUDE_DIRS} REQUIRED)

# Torch's CMake config leaves `torch` without its include directories on some
# versions; wrap it once so every target gets the same usage requirements.
add_library(baton_torch INTERFACE)
target_link_libraries(baton_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(baton_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
# pip's libtorch.so exports some std::filesystem symbols whose copies crash
# (a call through a null pointer in remove_all); naming libstdc++ first makes
# the loader bind those names to the real C++ runtime.
target_link_options(baton_torch INTERFACE "LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(baton_torch INTERFACE ${_torch_flags})

# CUDA: present when libtorch was built with it (PyTorch's wheel on the GPU host).
set(BATON_WITH_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CUDA_FOUND)
  set(BATON_WITH_CUDA ON)
endif()

# NCCL: only meaningful with CUDA; headers and library from the wheel (CPATH /
# LIBRARY_PATH set by .gpu/env.sh) or a system install.
set(BATON_WITH_NCCL OFF)
if(BATON_WITH_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS $ENV{NCCL_ROOT}/include ENV CPATH)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS $ENV{NCCL_ROOT}/lib ENV LIBRARY_PATH)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(BATON_WITH_NCCL ON)
    add_library(baton_nccl INTERFACE)
    target_include_directories(baton_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(baton_nccl INTERFACE ${NCCL_LIBRARY})
  endif()
endif()

# MPI: the launcher's membership and rank discovery. Optional so that a build
# without OpenMPI still runs everything in one process.
set(BATON_WITH_MPI OFF)
find_package(MPI COMPONENTS C)
if(MPI_C_FOUND)
  set(BATON_WITH_MPI ON)
endif()

# pip's libtorch ships its own fmt/ and google/protobuf/ headers; its include
# directory would shadow the system ones that spdlog and protobuf were built
# against. A directory of links to the system copies goes first on every target
# (the fix from ../shared/gpu/README.md; harmless with Debian's libtorch).
set(BATON_SYSINC ${CMAKE_BINARY_DIR}/sysinc)
file(MAKE_DIRECTORY ${BATON_SYSINC})
foreach(_dir fmt google spdlog)
  if(EXISTS /usr/include/${_dir} AND NOT EXISTS ${BATON_SYSINC}/${_dir})
    file(CREATE_LINK /usr/include/${_dir} ${BATON_SYSINC}/${_dir} SYMBOLIC)
  endif()
endforeach()

# Version from git, so `baton --version` names the exact build.
set(BATON_GIT_VERSION "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --tags
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
                  OUTPUT_VARIABLE _git_describe OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET RESULT_VARIABLE _git_rc)
  if(_git_rc EQUAL 0 AND _git_describe)
    set(BATON_GIT_VERSION "${_git_describe}")
  endif()
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

message(STATUS "baton ${PROJECT_VERSION} (${BATON_GIT_VERSION}): torch ${Torch_VERSION}, "
               "CUDA ${BATON_WITH_CUDA}, NCCL ${BATON_WITH_NCCL}, MPI ${BATON_WITH_MPI}")
