//! A three-node OpenBao raft cluster of [`RaftNode`]s (raft.rs) for the failure-behaviour tests:
//! find the leader and a standby, SIGKILL the leader, time the election, restart a node on its
//! data, heal the whole cluster. [`cluster`] hands out the one cluster this test binary shares
//! (the machine is small), healed, behind a mutex: tests using it run one at a time. Test-only
//! code (it lives under tests/).

#![allow(dead_code)] // each test module uses a different part

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::raft::{NodeOptions, RaftNode, base_dir};

/// Three (or `n`) nodes; the first was initialised, the others joined with `retry_join`.
pub struct RaftCluster {
    pub nodes: Vec<RaftNode>,
    pub token: String,
    pub unseal_key: String,
}

/// The shared cluster, healed before it is handed out. Its raft runs with
/// `performance_multiplier = 1` (a leader loss is noticed in ~3 s instead of ~15 s), so
/// failovers in tests are quick; start an own [`RaftCluster::start_with`] for the defaults.
pub fn cluster() -> MutexGuard<'static, RaftCluster> {
    static CLUSTER: OnceLock<Mutex<RaftCluster>> = OnceLock::new();
    let mut guard = CLUSTER
        .get_or_init(|| {
            let opts = NodeOptions {
                storage_extra: "  performance_multiplier = 1".into(),
                ..Default::default()
            };
            Mutex::new(RaftCluster::start_with(3, &opts))
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner()); // a failed test must not poison the others
    guard.heal();
    guard
}

impl RaftCluster {
    /// `n` nodes with the default raft settings, all voters, with a leader.
    pub fn start(n: usize) -> RaftCluster {
        Self::start_with(n, &NodeOptions::default())
    }

    pub fn start_with(n: usize, opts: &NodeOptions) -> RaftCluster {
        let base = tempfile::Builder::new()
            .prefix("cluster-")
            .tempdir_in(base_dir())
            .expect("cluster dir")
            .keep();
        // Ports are chosen for every node before any config is written: each lists all peers.
        let nodes: Vec<RaftNode> = (1..=n)
            .map(|i| RaftNode::new(&format!("node{i}"), &base.join(format!("node{i}"))))
            .collect();
        let peers: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
        for node in &nodes {
            node.write_config(&peers, opts);
        }
        let mut nodes = nodes;
        nodes[0].start();
        nodes[0].init();
        nodes[0].unseal();
        nodes[0].wait_active(Duration::from_secs(60));
        let (token, unseal_key) = (nodes[0].token.clone(), nodes[0].unseal_key.clone());
        // Autopilot promotes a joined node to voter after `server_stabilization_time` (10 s by
        // default): shorter, so a fresh cluster tolerates a failure sooner.
        let body = r#"{"server_stabilization_time":"2s"}"#;
        let r = nodes[0].call(
            "POST",
            "sys/storage/raft/autopilot/configuration",
            &[],
            Some(body),
        );
        if !r.as_ref().is_ok_and(|r| r.status < 300) {
            nodes[0].fail(&format!("autopilot configuration: {r:?}"));
        }
        for node in nodes.iter_mut().skip(1) {
            (node.token, node.unseal_key) = (token.clone(), unseal_key.clone());
            node.start();
            node.unseal();
        }
        let cluster = RaftCluster {
            nodes,
            token,
            unseal_key,
        };
        cluster.wait_voters(Duration::from_secs(90));
        cluster
    }

    /// The index of the active node (`sys/health` 200), if any running node says so.
    pub fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.is_running() && n.health() == Some(200))
    }

    pub fn leader_node(&self) -> &RaftNode {
        &self.nodes[self.leader().expect("a leader")]
    }

    /// The index of a running, unsealed standby (`sys/health` 429).
    pub fn standby(&self) -> usize {
        self.nodes
            .iter()
            .position(|n| n.is_running() && n.health() == Some(429))
            .expect("a running standby")
    }

    /// The API address of a standby.
    pub fn standby_addr(&self) -> String {
        self.nodes[self.standby()].addr.clone()
    }

    /// SIGKILLs the active node; returns its index.
    pub fn kill_leader(&mut self) -> usize {
        let i = self.leader().expect("a leader to kill");
        self.nodes[i].kill();
        i
    }

    /// Restarts node `i` on its data and ports, unsealed.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].restart();
    }

    /// Waits until a running node is active; returns how long that took.
    pub fn wait_for_leader(&self, limit: Duration) -> Duration {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.leader().is_some() {
                return start.elapsed();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let logs: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{}: {}", n.name, n.log.display()))
            .collect();
        panic!(
            "no raft leader within {limit:?}; node logs: {}",
            logs.join(", ")
        );
    }

    /// Until autopilot reports every node a voter and the cluster healthy.
    pub fn wait_voters(&self, limit: Duration) {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < limit {
            if let Some(l) = self.leader() {
                let state = self.nodes[l]
                    .get("sys/storage/raft/autopilot/state")
                    .map(|r| r.json())
                    .unwrap_or_default();
                let voters = state["data"]["voters"].as_array().map_or(0, Vec::len);
                if state["data"]["healthy"] == true && voters == self.nodes.len() {
                    return;
                }
                last = state["data"].to_string();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let leader = self.leader().unwrap_or(0);
        self.nodes[leader].fail(&format!(
            "cluster not healthy with all voters within {limit:?}: {last}"
        ));
    }

    /// Every node running and unsealed, a leader, all voters: what a test leaves behind.
    pub fn heal(&mut self) {
        for node in &mut self.nodes {
            if !node.is_running() {
                node.start();
            }
            node.unseal();
        }
        self.wait_for_leader(Duration::from_secs(60));
        self.wait_voters(Duration::from_secs(90));
    }
}
