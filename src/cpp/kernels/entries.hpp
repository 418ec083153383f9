// The entries of kernels/list.hpp, declared in the ISA's namespace: each is defined in its
// family's kernels/<family>.cpp and collected into the ISA's table by isa/table.inc, all built
// once per ISA. FASTLOSS_DECLARE_ENTRY also declares a lender's entries (isa/table.inc).
#pragma once

#include "kernels/args.hpp"
#include "kernels/list.hpp"

#define FASTLOSS_DECLARE_ENTRY(name, ret, args) ret name(const args&);

namespace fastloss::FASTLOSS_ISA {
FASTLOSS_KERNELS(FASTLOSS_DECLARE_ENTRY)
}  // namespace fastloss::FASTLOSS_ISA
