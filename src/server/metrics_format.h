// Prometheus text exposition (format 0.0.4) of the same numbers `stats` and `stats shield` report.
// Names follow prometheus/memcached_exporter wherever the meaning is the same, so its dashboards
// and alerts work unchanged; memshield's own counters are memshield_shield_*_total.
#pragma once

#include <string>

#include "server/shield.h"
#include "server/stats_report.h"

namespace memshield::server {

// The whole /metrics body.
std::string format_metrics(const StatsSources& src, const ShieldStats& shield);

}  // namespace memshield::server
