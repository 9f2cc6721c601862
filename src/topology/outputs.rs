//! Output references between objects (`keycloak:REALM/CLIENT#secret`, and the keymaster's):
//! the object taking a value waits for the object producing it, and a reference to an object
//! the topology does not declare is an error where it is written — its value could never be
//! known.

use super::resolve::Resolver;
use crate::model::{Address, AttrValue, Desired};

pub(super) fn wire(r: &mut Resolver, desired: &mut Desired) {
    let declared: std::collections::BTreeSet<Address> = desired
        .resources
        .iter()
        .map(|d| d.address.clone())
        .collect();
    for res in &mut desired.resources {
        let producers: Vec<(String, Address)> = res
            .attrs
            .iter()
            .filter_map(|(field, v)| match v {
                AttrValue::Output(o) => Some((field.clone(), o.producer.address())),
                _ => None,
            })
            .collect();
        for (field, producer) in producers {
            if !declared.contains(&producer) {
                let loc = res.loc_of(&field).unwrap_or_default();
                let message = format!(
                    "{}: `{field}` takes a value of {producer}, which the topology does not declare",
                    res.address
                );
                let help = "declare that object (its realm file must be listed under keycloak.realms), or write the value as env:, file: or sops:".to_string();
                match &res.file {
                    Some(file) => r.problems.push(file.problem(loc, message, Some(help))),
                    None => r.problem(loc, message, help),
                }
                continue;
            }
            if !res.depends_on.contains(&producer) {
                res.depends_on.push(producer);
            }
        }
    }
}
