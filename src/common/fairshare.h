/* fairshare.h — weighted max-min fair shares (water-filling): how a capacity is split among
 * claimants by weight, each within a floor and a cap. The one implementation behind the
 * elastic plan's CPU entitlements (src/ctl/elastic.c, floors from reservations) and the
 * simulated hypervisor's contention model (src/agent/hv_sim.c, no floors). Pure: no I/O, no
 * logging. */
#pragma once

#include <stddef.h>

/* Splits capacity among n claimants: the water level L with
 *     sum_i clamp(L * weight[i], floor[i], cap[i]) = capacity,
 * and ret[i] = clamp(L * weight[i], floor[i], cap[i]). So the capacity goes in proportion to
 * the weights, what one claimant does not want (above its cap) is shared by the others in the
 * same proportions, and a floor is a lower bound (a claimant whose fair part is above its
 * floor gets its fair part, not floor plus part).
 *   - When the caps add up to no more than capacity, each gets its cap: what is left is forced
 *     on no one. A capacity of +infinity is such a case.
 *   - When the floors add up to capacity or more, each gets its floor scaled down in
 *     proportion.
 *   - A floor above its cap counts as the cap; a claimant with weight 0 gets its floor only,
 *     contended or not.
 *   - Any floor, cap or weight that is negative, NaN or infinite counts as 0, and so does a
 *     capacity that is negative or NaN.
 * floor may be NULL (every floor 0); ret may not alias the inputs. Exact up to rounding;
 * O(n log n). */
void fairshare_split(double capacity, const double *floor, const double *cap, const double *weight, size_t n,
                     double *ret);
