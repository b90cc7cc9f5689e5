//! Shards of a multiqueue stack: the local ports an interface picks for
//! the connections it opens are steered (by `wire::steer`, the function
//! the kernel's steering program computes) to its own queue, so two
//! shards never pick the same 4-tuple and every reply reaches the owner.

use super::*;
use crate::time::Instant;
use crate::wire::steer::flow_queue;
use std::net::{Ipv4Addr, SocketAddrV4};

fn shard(queue: usize, queues: usize) -> Interface {
    Interface::new(Config {
        queue,
        queues,
        ..Config::default()
    })
}

#[test]
fn connect_picks_ports_steered_to_its_own_queue() {
    for queues in [2usize, 4] {
        for queue in 0..queues {
            let mut iface = shard(queue, queues);
            for remote_port in [80u16, 443, 5001] {
                let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), remote_port);
                for _ in 0..50 {
                    let h = iface.tcp_connect(Instant::ZERO, remote).unwrap();
                    let local = iface.tcp(h).unwrap().local().port();
                    assert_eq!(
                        usize::from(flow_queue(local, remote_port, queues as u16)),
                        queue,
                        "port {local} to {remote_port} belongs to another of {queues} queues"
                    );
                    assert!((32768..=60999).contains(&local));
                }
            }
        }
    }
}

#[test]
fn one_queue_uses_the_whole_range() {
    let mut iface = shard(0, 1);
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    let mut queues_hit = [false; 2];
    for _ in 0..64 {
        let h = iface.tcp_connect(Instant::ZERO, remote).unwrap();
        let local = iface.tcp(h).unwrap().local().port();
        queues_hit[usize::from(flow_queue(local, 80, 2))] = true;
    }
    assert_eq!(queues_hit, [true, true], "one queue: no port is excluded");
}

#[test]
fn a_shard_runs_out_of_ports_at_its_share_of_the_range() {
    let mut iface = Interface::new(Config {
        queue: 1,
        queues: 2,
        ephemeral_ports: 40000..=40063,
        ..Config::default()
    });
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 80);
    let share = (40000u16..=40063)
        .filter(|p| flow_queue(*p, 80, 2) == 1)
        .count();
    assert!(share > 0 && share < 64);
    for _ in 0..share {
        iface.tcp_connect(Instant::ZERO, remote).unwrap();
    }
    assert_eq!(
        iface.tcp_connect(Instant::ZERO, remote),
        Err(Error::NoPortsAvailable)
    );
}
