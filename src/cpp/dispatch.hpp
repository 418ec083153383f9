// The kernel table and the choice of instruction set. Compiled at the ABI floor.
#pragma once
#include <string>
#include <vector>

#include "kernel_table.hpp"

namespace fastloss {

// The table in use. Chosen by init_dispatch(); the best supported one until then.
const KernelTable& active();

// Chooses the best ISA the CPU and OS support, lowered by `requested` (FASTLOSS_SIMD, may be
// null). Returns a warning to show the user, or "" when there is none.
std::string init_dispatch(const char* requested);

// Switches to the named ISA (tests visit every path this way); false if not available.
bool set_backend(const std::string& isa);

// The entries the named compiled ISA's table takes from a lower ISA's table, and that ISA
// ("" with no entries); false for an ISA not compiled in.
bool borrowed_entries(const std::string& isa, std::string* lender, std::vector<std::string>* names);

std::vector<std::string> compiled_backends();   // built into this module, best first
std::vector<std::string> supported_backends();  // compiled and runnable here, best first

}  // namespace fastloss
