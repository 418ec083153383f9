// Merging of streaming statistics, shared by the kernels (chunk by chunk) and by the Python
// evaluators (update by update), so both combine partial results the same way. Compiled once,
// at the ABI floor (stats.cpp): the ISA files call it, never inline it.
#pragma once

#include "kernels/args.hpp"

namespace fastloss {

// max that keeps NaN from either side.
double nan_max(double a, double b);

// The statistics of the union of two disjoint sets of rows: sums add, the weighted mean and
// M2 = Σw·(y - ȳ)² combine by Chan, Golub & LeVeque's pairwise update.
RegressionStats merge(const RegressionStats& a, const RegressionStats& b);

}  // namespace fastloss
