# Turns data files into C++ sources so the binary needs no file at run time.
# (Filled in with the VADER model; until then nothing is embedded.)
set(MLGATE_GENERATED_SOURCES "")
