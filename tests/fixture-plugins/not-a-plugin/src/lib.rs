//! Fixture: a valid shared library that is not an smo plugin (no root module).
//! The daemon must reject it with one line saying so.

#[no_mangle]
pub extern "C" fn smo_fixture_hello() -> u32 {
    42
}
