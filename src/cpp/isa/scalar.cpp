// The kernel table of scalar. Built with FASTLOSS_ISA=scalar and no auto-vectorization (CMakeLists.txt).
#include "isa/table.inc"
