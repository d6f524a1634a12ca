//! Fixture: a plugin root module claiming plugin API 2.0.0, as a plugin built against a
//! future major version would. The daemon must reject it with one line naming both versions.
#![allow(non_camel_case_types)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::{declare_root_module_statics, export_root_module, StableAbi};

#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = FutureModule_Ref)))]
pub struct FutureModule {
    #[sabi(last_prefix_field)]
    pub answer: extern "C" fn() -> u64,
}

impl RootModule for FutureModule_Ref {
    declare_root_module_statics! {FutureModule_Ref}
    const BASE_NAME: &'static str = "smo_plugin";
    const NAME: &'static str = "smo_plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("2.0.0");
}

extern "C" fn answer() -> u64 {
    42
}

#[export_root_module]
pub fn get_root_module() -> FutureModule_Ref {
    FutureModule { answer }.leak_into_prefix()
}
