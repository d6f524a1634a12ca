//! Opening a plugin as a host of this API: the version check (same major), then a layout check
//! that accepts a plugin built against an older or a newer minor version of this crate.
//!
//! abi_stable's own check (`LibHeader::init_root_module`) takes the host's root module as the
//! interface: a host whose `PluginModule` gained a field refuses every plugin built before it
//! ("too many fields"). Here the layouts are compared both ways and a plugin passes when either
//! holds, i.e. when one root module is a prefix of the other; a field the plugin predates then
//! reads as `None` through its accessor.

use crate::module::PluginModule_Ref;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{LibHeader, LibraryError, RootModule};
use abi_stable::sabi_types::VersionNumber;
use abi_stable::std_types::RBoxError;
use abi_stable::StableAbi;

/// The root module of the library behind `header`, checked as the module documentation says.
pub fn init_root_module(header: &LibHeader) -> Result<PluginModule_Ref, LibraryError> {
    let expected = VersionNumber::new(PluginModule_Ref::VERSION_STRINGS)?;
    let actual = VersionNumber::new(header.version_strings())?;
    if expected.major != actual.major || (expected.major == 0 && expected.minor > actual.minor) {
        return Err(LibraryError::IncompatibleVersionNumber {
            library_name: PluginModule_Ref::NAME,
            expected_version: expected,
            actual_version: actual,
        });
    }
    if let Some(plugin) = header.layout() {
        let host = <PluginModule_Ref as StableAbi>::LAYOUT;
        if let Err(as_interface) = check_layout_compatibility(host, plugin) {
            if check_layout_compatibility(plugin, host).is_err() {
                return Err(LibraryError::AbiInstability(RBoxError::from_fmt(
                    &as_interface,
                )));
            }
        }
    }
    // SAFETY: the layouts were checked just above: the plugin's root module and ours are equal
    // up to the fields one of them appends, which prefix types are made for (an accessor of a
    // field the library lacks answers `None`). A plugin exported without a layout constant is
    // not checked, exactly as `LibHeader::init_root_module` would not check it.
    unsafe { header.init_root_module_with_unchecked_layout::<PluginModule_Ref>() }
}
