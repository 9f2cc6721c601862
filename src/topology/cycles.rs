//! Dependency cycles among declared objects: an object that (through others) must exist before
//! itself could never be applied, so a cycle is an error before any request, naming the objects
//! in it. A depth-first walk with an explicit stack (a topology may hold 50,000 objects).

use std::collections::BTreeMap;

use crate::model::{Address, DesiredResource};

/// The first cycle found, as indices into `resources` in dependency order, if there is one.
/// Dependencies on addresses the file does not declare are not edges.
pub fn find_cycle(resources: &[DesiredResource]) -> Option<Vec<usize>> {
    let index: BTreeMap<&Address, usize> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.address, i))
        .collect();
    let edges: Vec<Vec<usize>> = resources
        .iter()
        .map(|r| {
            r.depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    // 0 = not seen, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; resources.len()];
    for start in 0..resources.len() {
        if state[start] != 0 {
            continue;
        }
        // (node, next edge to follow)
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            match edges[node].get(*next).copied() {
                Some(dep) => {
                    *next += 1;
                    match state[dep] {
                        0 => {
                            state[dep] = 1;
                            stack.push((dep, 0));
                        }
                        1 => {
                            let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            return Some(stack[from..].iter().map(|(n, _)| *n).collect());
                        }
                        _ => {}
                    }
                }
                None => {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceId;

    fn res(name: &str, deps: &[&str]) -> DesiredResource {
        let mut r = DesiredResource::new(
            ResourceId::new("", "policy", None, name),
            Default::default(),
        );
        r.depends_on = deps
            .iter()
            .map(|d| ResourceId::new("", "policy", None, d).address())
            .collect();
        r
    }

    #[test]
    fn a_cycle_is_found_with_its_members_and_a_chain_is_not_one() {
        let chain = [res("a", &["b"]), res("b", &["c"]), res("c", &["elsewhere"])];
        assert_eq!(find_cycle(&chain), None);
        let looped = [
            res("a", &["b"]),
            res("b", &["c"]),
            res("c", &["a"]),
            res("d", &["a"]),
        ];
        let cycle = find_cycle(&looped).expect("a cycle");
        let mut names: Vec<&str> = cycle.iter().map(|&i| looped[i].id.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(find_cycle(&[res("self", &["self"])]), Some(vec![0]));
    }
}
