# Runs one libFuzzer target for a bounded time (cmake -P, called by ctest).
# Inputs: FUZZER (binary), SEEDS (generated seed corpus), REGRESSIONS (crash
# inputs kept in the repo; may be absent), WORK (scratch folder, recreated),
# SECONDS. The fuzzer grows a copy of the seeds, so the seed folder stays as
# generated; crashing inputs land in WORK/artifacts/.
foreach(var FUZZER SEEDS REGRESSIONS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake needs -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts ${WORK}/tmp)
file(COPY ${SEEDS}/ DESTINATION ${WORK}/corpus)
set(corpora ${WORK}/corpus)
if(IS_DIRECTORY ${REGRESSIONS})
  list(APPEND corpora ${REGRESSIONS})
endif()

set(ENV{TMPDIR} ${WORK}/tmp)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -malloc_limit_mb=64
          -timeout=10 -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${corpora}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); the crashing input is in ${WORK}/artifacts/")
endif()
