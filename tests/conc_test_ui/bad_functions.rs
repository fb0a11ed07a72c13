use goweave::conc_test;

#[conc_test]
fn takes_an_argument(n: u32) {
    let _ = n;
}

#[conc_test]
async fn is_async() {}

#[conc_test]
fn is_generic<T>() {}

#[conc_test]
unsafe fn is_unsafe() {}

#[conc_test]
#[test]
fn also_test() {}

#[conc_test]
#[should_panic]
fn should_panic_instead_of_expect() {}

fn main() {}
