//! Names for generated users: a built-in list of first and last names, so the
//! plugin needs no data files and a seed alone fixes every name.

use crate::draw::Draw;

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Barbara",
    "Charles",
    "Claude",
    "Dennis",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Hedy",
    "Ivan",
    "John",
    "Joan",
    "Karen",
    "Ken",
    "Leslie",
    "Linus",
    "Margaret",
    "Mary",
    "Niklaus",
    "Radia",
    "Richard",
    "Shafi",
    "Sophie",
    "Tim",
    "Tony",
    "Vint",
    "Whitfield",
    "Yukihiro",
];

const LAST: &[&str] = &[
    "Allen",
    "Backus",
    "Berners-Lee",
    "Cerf",
    "Dijkstra",
    "Diffie",
    "Goldwasser",
    "Hamilton",
    "Hopper",
    "Hoare",
    "Jones",
    "Kahn",
    "King",
    "Knuth",
    "Lamport",
    "Liskov",
    "Lovelace",
    "Matsumoto",
    "McCarthy",
    "Perlman",
    "Ritchie",
    "Shannon",
    "Sparck",
    "Stallman",
    "Sutherland",
    "Thompson",
    "Torvalds",
    "Turing",
    "Wilson",
    "Wirth",
];

/// A random "First Last".
pub fn full_name(d: &mut Draw) -> String {
    let first = FIRST[d.below(FIRST.len() as u64) as usize];
    let last = LAST[d.below(LAST.len() as u64) as usize];
    format!("{first} {last}")
}

/// `name` with another last name (a marriage, a correction): the first name is
/// kept and the result always differs from `name`.
pub fn renamed(name: &str, d: &mut Draw) -> String {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let current = LAST.iter().position(|l| *l == last);
    let choices = LAST.len() as u64 - u64::from(current.is_some());
    let mut pick = d.below(choices) as usize;
    if current.is_some_and(|c| pick >= c) {
        pick += 1;
    }
    format!("{first} {}", LAST[pick])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_two_parts_and_renames_change_only_the_last() {
        let mut d = Draw::for_change(3, 9);
        for _ in 0..2_000 {
            let name = full_name(&mut d);
            let (first, last) = name.split_once(' ').expect("two parts");
            assert!(FIRST.contains(&first) && LAST.contains(&last), "{name}");
            let new = renamed(&name, &mut d);
            assert_ne!(new, name);
            assert!(new.starts_with(&format!("{first} ")), "{name} → {new}");
        }
        assert!(renamed("Cher", &mut d).starts_with("Cher "));
    }
}
