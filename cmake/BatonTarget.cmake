# baton_library(NAME SOURCES <files> [DEPS <targets>])
# One static library per concept folder, all sharing one set of flags and one
# precompiled ATen header (built once, for baton_pch, and reused everywhere).

add_library(baton_pch STATIC ${CMAKE_SOURCE_DIR}/cmake/pch_anchor.cpp)
target_link_libraries(baton_pch PUBLIC baton_torch spdlog::spdlog)
target_include_directories(baton_pch BEFORE PUBLIC ${BATON_SYSINC})
if(BATON_USE_PCH)
  target_precompile_headers(baton_pch PRIVATE
    <ATen/ATen.h> <spdlog/spdlog.h> <string> <vector> <map> <memory> <functional>)
endif()

function(baton_apply_common target)
  target_include_directories(${target} BEFORE PRIVATE ${BATON_SYSINC})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  if(BATON_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM baton_pch)
  endif()
endfunction()

function(baton_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_SOURCES)
    # A folder whose code has not landed yet still names its place in the graph.
    add_library(${name} INTERFACE)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  baton_apply_common(${name})
endfunction()
