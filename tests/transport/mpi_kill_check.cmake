# Kills rank 1 of a 3-rank ring mid-run (transport_mpi_check kill) and checks
# that both survivors failed within 30 s with an error naming rank 1, and that
# the whole job ended in bounded time.
#   cmake -DMPIEXEC=... -DNUMPROC_FLAG=-n -DPREFLAGS=... -DCHECK=... -P mpi_kill_check.cmake
string(TIMESTAMP started "%s")
execute_process(
  COMMAND ${MPIEXEC} ${NUMPROC_FLAG} 3 ${PREFLAGS} ${CHECK} kill --victim 1 --after 3
  TIMEOUT 90
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE errors)
string(TIMESTAMP ended "%s")
math(EXPR elapsed "${ended} - ${started}")
message("${output}")
foreach(rank 0 2)
  if(NOT output MATCHES "rank ${rank} PASS: detected the death of rank 1 after [0-9.]+ s: [^\n]*rank 1 ")
    message(FATAL_ERROR "rank ${rank} did not report the death of rank 1 within 30 s (mpirun: ${result}, "
                        "${elapsed} s)\nstdout:\n${output}\nstderr:\n${errors}")
  endif()
endforeach()
if(output MATCHES "FAIL")
  message(FATAL_ERROR "a survivor failed the check:\n${output}\n${errors}")
endif()
message("both survivors named the dead rank; the job ended after ${elapsed} s")
