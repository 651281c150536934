//! Helpers shared by the integration tests: the processes a sandbox's uids own right now.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::ops::Range;

/// Pids of live processes whose real uid is in `uids`.
pub fn processes_of(uids: &Range<u32>) -> Vec<(u32, u32)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if let Some(uid) = uid.filter(|u| uids.contains(u)) {
            found.push((pid, uid));
        }
    }
    found
}

/// Pids of live processes (not zombies) running `exe_name` whose parent chain reaches `ancestor`.
pub fn descendants_named(ancestor: u32, exe_name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().unwrap_or("");
        if comm != exe_name || state == "Z" {
            continue;
        }
        let mut p = pid;
        for _ in 0..64 {
            let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                break;
            };
            let Some(c) = s.rfind(')') else { break };
            let ppid: u32 = s[c + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            if ppid == ancestor {
                found.push(pid);
                break;
            }
            if ppid <= 1 {
                break;
            }
            p = ppid;
        }
    }
    found
}
