// The table of kernel entry points one ISA provides: one function pointer per entry of
// kernels/list.hpp. Plain data, so the ISA files can define theirs as a constant.
#pragma once

#include "kernels/args.hpp"
#include "kernels/list.hpp"

namespace fastloss {

struct KernelTable {
  const char* isa;
#define FASTLOSS_TABLE_FIELD(name, ret, args) ret (*name)(const args&);
  FASTLOSS_KERNELS(FASTLOSS_TABLE_FIELD)
#undef FASTLOSS_TABLE_FIELD
};

}  // namespace fastloss
