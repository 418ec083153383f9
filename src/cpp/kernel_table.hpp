// The table of kernel entry points one ISA provides: one function pointer per entry of
// kernels/list.hpp. Plain data, so the ISA files can define theirs as a constant.
#pragma once

#include "kernels/args.hpp"
#include "kernels/list.hpp"

namespace fastloss {

struct KernelTable {
  const char* isa;
  // Entries taken from another ISA's table (isa/table.inc, FASTLOSS_BORROWED), null-terminated;
  // lender names that ISA. Both for show_config and the tests.
  const char* const* borrowed;
  const char* lender;
#define FASTLOSS_TABLE_FIELD(name, ret, args) ret (*name)(const args&);
  FASTLOSS_KERNELS(FASTLOSS_TABLE_FIELD)
#undef FASTLOSS_TABLE_FIELD
};

}  // namespace fastloss
