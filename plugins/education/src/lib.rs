//! Department plugin «Образование»: claims the IPRA measures of its section, validates their execution and renders
//! its section of the execution report. All the logic is the SDK's [`department`](ipra_plugin_sdk::department).

use ipra_plugin_sdk::department::Department;

/// This department: section `education`.
pub const DEPARTMENT: Department = Department {
    id: "education",
    section: "education",
    label: "Образование",
};

ipra_plugin_sdk::department_plugin!(
    /// The plugin exported to the host.
    Plugin = DEPARTMENT
);

#[cfg(test)]
mod tests {
    use super::{Plugin, DEPARTMENT};
    use ipra_plugin_sdk::bindings::Guest;
    use ipra_plugin_sdk::department::{sample_ipra, MemoryLookups};

    #[test]
    fn describes_and_claims_its_section() {
        let info = <Plugin as Guest>::describe();
        assert_eq!(
            (info.id.as_str(), info.sections.as_slice()),
            ("education", ["education".to_string()].as_slice())
        );
        let out = DEPARTMENT.claim(&sample_ipra(), &MemoryLookups::default());
        assert_eq!(out.claims.len(), 1);
        assert_eq!(out.claims[0].section, "education");
    }
}
