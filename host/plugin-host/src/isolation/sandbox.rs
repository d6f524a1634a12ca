//! What confines a plugin's own process before it loads the plugin: resource limits
//! (setrlimit) and, where the kernel has Landlock, a read-only filesystem and no TCP.

use super::Limits;
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, ABI,
};
use rlimit::Resource;

/// Applies `limits` and Landlock to this process; says what holds (for the daemon's log).
pub fn confine(limits: &Limits) -> Result<String, String> {
    let mut applied = Vec::new();
    if limits.memory_mib > 0 {
        let bytes = limits.memory_mib.saturating_mul(1 << 20);
        // RLIMIT_DATA counts the heap and private mappings (Linux 4.7 and later).
        Resource::DATA
            .set(bytes, bytes)
            .map_err(|e| format!("memory limit: {e}"))?;
        applied.push(format!("memory {} MiB", limits.memory_mib));
    }
    if limits.cpu_seconds > 0 {
        Resource::CPU
            .set(limits.cpu_seconds, limits.cpu_seconds)
            .map_err(|e| format!("CPU time limit: {e}"))?;
        applied.push(format!("CPU {} s", limits.cpu_seconds));
    }
    if limits.open_files > 0 {
        Resource::NOFILE
            .set(limits.open_files, limits.open_files)
            .map_err(|e| format!("open files limit: {e}"))?;
        applied.push(format!("{} open files", limits.open_files));
    }
    applied.push(landlock());
    Ok(applied.join(", "))
}

/// Read-only access to every file, no TCP bind or connect: as much of that as the kernel
/// enforces (Landlock ABI 4 for the network, Linux 6.7; the filesystem from Linux 5.13). Refused
/// (a seccomp filter without the Landlock calls, say): not enforced, and said so.
fn landlock() -> String {
    let abi = ABI::V4;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi))))
        .and_then(|r| r.restrict_self());
    let status = match status {
        Ok(status) => status,
        Err(error) => return format!("landlock: not enforced ({error}): resource limits only"),
    };
    match status.ruleset {
        RulesetStatus::FullyEnforced => "landlock: read-only filesystem, no TCP".to_owned(),
        RulesetStatus::PartiallyEnforced => {
            "landlock: partly enforced (this kernel lacks part of ABI 4: the filesystem may be \
             read-only without the network rules)"
                .to_owned()
        }
        RulesetStatus::NotEnforced => {
            "landlock: not enforced (the kernel has no Landlock): resource limits only".to_owned()
        }
    }
}
