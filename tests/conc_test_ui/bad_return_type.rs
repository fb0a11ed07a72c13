use goweave::conc_test;

#[conc_test]
fn returns_a_number() -> u32 {
    7
}

fn main() {}
