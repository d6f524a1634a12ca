//! The ranges the API accepts for a cluster's numbers: wide enough for any real datacenter,
//! narrow enough that no strategy's arithmetic overflows (`pue: 1e308` once gave "+inf W").

/// Power usage effectiveness: 1 (every watt reaches IT) to 5 (the worst measured).
pub const PUE: (f64, f64) = (1.0, 5.0);
/// Grid carbon intensity, g CO2e per kWh (the dirtiest grids are about 1,100).
pub const CARBON_G_PER_KWH: (f64, f64) = (0.0, 2_000.0);
/// On-site renewable supply, kW (1 GW).
pub const RENEWABLE_KW: (f64, f64) = (0.0, 1.0e6);
/// A cluster's idle or peak power, W (100 MW).
pub const POWER_W: (f64, f64) = (0.0, 1.0e8);
/// CPU cores of a cluster.
pub const CPU_CORES: (f64, f64) = (0.0, 1.0e6);
/// Memory of a cluster, MiB (1 EiB).
pub const MEMORY_MIB: (f64, f64) = (0.0, 1.0e12);
/// GPUs of a cluster.
pub const GPUS: u32 = 100_000;
/// Each price (per core-hour, GiB-hour, GPU-hour, GB, kWh).
pub const PRICE: (f64, f64) = (0.0, 1.0e6);
/// A response-time objective, ms (an hour).
pub const SLO_MS: (f64, f64) = (0.0, 3.6e6);
