// The kernel table of avx2. Built with FASTLOSS_ISA=avx2 and its flags (CMakeLists.txt).
#include "isa/table.inc"
