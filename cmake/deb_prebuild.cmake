# deb_prebuild.cmake: run by CPack on the staged files before it builds the
# package. Drops the compiler's .comment section from the binary, as
# Debian's dh_strip does (CPack's strip keeps it; lintian notes it).
file(GLOB_RECURSE staged_bins "${CPACK_TEMPORARY_DIRECTORY}/usr/bin/*")
foreach(bin ${staged_bins})
  execute_process(COMMAND objcopy --remove-section=.comment "${bin}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "objcopy failed on ${bin}")
  endif()
endforeach()
