//! The one place where WIT types meet the host's own (`model`): for every interface version the
//! runtime serves, a conversion of each type in the direction it crosses. Inputs go from the host's
//! types into the version a component was built against; outputs come back into the host's types.
//!
//! A new minor version adds cases or records: its conversions are the same lists with the new names,
//! and an older version's output simply never holds them (1.0 has no `receipt`). A new major version
//! (`wit/v2`) gets its own module here and in `runtime`; nothing outside the two changes.

use super::model;

/// A conversion between a WIT type of one interface version and the host's type (either way).
pub(super) trait Adapt<T> {
    fn adapt(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Adapt<$t> for $t {
            #[inline]
            fn adapt(self) -> $t {
                self
            }
        }
    )*};
}
same!(String, bool);

impl Adapt<Vec<u8>> for Vec<u8> {
    /// Bytes (a whole incoming document) are moved, never copied.
    #[inline]
    fn adapt(self) -> Vec<u8> {
        self
    }
}

impl<A: Adapt<B>, B> Adapt<Option<B>> for Option<A> {
    #[inline]
    fn adapt(self) -> Option<B> {
        self.map(Adapt::adapt)
    }
}

impl<A: Adapt<B>, B, E: Adapt<F>, F> Adapt<Result<B, F>> for Result<A, E> {
    #[inline]
    fn adapt(self) -> Result<B, F> {
        self.map(Adapt::adapt).map_err(Adapt::adapt)
    }
}

/// A list of records or strings. (`u8` has no conversion of its own, so `Vec<u8>` is only the
/// bytes above.)
impl<A: Adapt<B>, B> Adapt<Vec<B>> for Vec<A> {
    #[inline]
    fn adapt(self) -> Vec<B> {
        self.into_iter().map(Adapt::adapt).collect()
    }
}

/// Records: each field converted, both ways.
macro_rules! records {
    ($($name:ident { $($field:ident),* })*) => {$(
        impl Adapt<model::$name> for wit::$name {
            #[inline]
            fn adapt(self) -> model::$name {
                model::$name { $($field: self.$field.adapt()),* }
            }
        }
        impl Adapt<wit::$name> for model::$name {
            #[inline]
            fn adapt(self) -> wit::$name {
                wit::$name { $($field: self.$field.adapt()),* }
            }
        }
    )*};
}

/// Enums: each case by name, both ways.
macro_rules! enums {
    ($($name:ident { $($case:ident),* })*) => {$(
        impl Adapt<model::$name> for wit::$name {
            #[inline]
            fn adapt(self) -> model::$name {
                match self { $(wit::$name::$case => model::$name::$case),* }
            }
        }
        impl Adapt<wit::$name> for model::$name {
            #[inline]
            fn adapt(self) -> wit::$name {
                match self { $(model::$name::$case => wit::$name::$case),* }
            }
        }
    )*};
}

/// Variants with a payload in each case, both ways.
macro_rules! variants {
    ($($name:ident { $($case:ident),* })*) => {$(
        impl Adapt<model::$name> for wit::$name {
            #[inline]
            fn adapt(self) -> model::$name {
                match self { $(wit::$name::$case(v) => model::$name::$case(v.adapt())),* }
            }
        }
        impl Adapt<wit::$name> for model::$name {
            #[inline]
            fn adapt(self) -> wit::$name {
                match self { $(model::$name::$case(v) => wit::$name::$case(v.adapt())),* }
            }
        }
    )*};
}

/// Records that only come out of a plugin (they hold `normalized`): one way.
macro_rules! records_out {
    ($($name:ident { $($field:ident),* })*) => {$(
        impl Adapt<model::$name> for wit::$name {
            #[inline]
            fn adapt(self) -> model::$name {
                model::$name { $($field: self.$field.adapt()),* }
            }
        }
    )*};
}

/// A variant that only comes out of a plugin: one way, so a newer host's cases need no place in
/// an older version.
macro_rules! variants_out {
    ($($name:ident { $($case:ident),* })*) => {$(
        impl Adapt<model::$name> for wit::$name {
            #[inline]
            fn adapt(self) -> model::$name {
                match self { $(wit::$name::$case(v) => model::$name::$case(v.adapt())),* }
            }
        }
    )*};
}

/// The types every 1.x version has, unchanged since 1.0.
macro_rules! since_1_0 {
    () => {
        records! {
            PluginError { code, message, record, field }
            ConfigKey { name, description, required, default_value }
            PluginInfo { id, name, version, kind, sections, document_types, hooks, config_keys, lookups }
            Attribute { code, value }
            Document { name, media_type, bytes }
            Person { snils, surname, given_name, patronymic, birth_date, gender, territory_code, address, extra }
            Measure {
                key, section, category_code, category_name, code, name, guid, executor_ogrn, executor_name,
                date_from, date_to, quantity, extra
            }
            IpraExtract {
                extract_id, document_id, document_version, number, protocol_number, protocol_date, decision_date,
                valid_until, issued_by, is_child, person, measures, extra
            }
            PriorReport { document_id, document_version, parent_document_id, number, date, source, snils, entries }
            DeathRecord {
                record_id, kind, act_number, act_date, death_date, snils, surname, given_name, patronymic,
                birth_date, registry_office, extra
            }
            ReferenceEntry { code, name, parent, extra }
            ReferenceList { list_id, version, entries }
            MeasureClaim { measure_key, section, executor_ogrn, note }
            FollowUp { kind, title, due_date, attributes, document }
            ExecutionEntry {
                measure_key, section, status, measure_name, executor_ogrn, executor_name, clarification,
                execution_date, reasons, comment, extra
            }
            ExecutionInput { ipra, entries, today }
            PlanInput { step, persons, today, extra }
            ExecuteOutput { errors, follow_ups }
            ReportInput { report_id, ipra, entries, reporter_ogrn, reporter_name, created, sections }
            Fact { fact_id, person, measure_code, decision_date, start_date, end_date, extra }
            FactBatch { package_id, facts, extra }
        }
        enums! {
            PluginKind { Department, Connector }
            Hook { Import, Execute, Export }
            LogLevel { Trace, Debug, Info, Warn, Error }
            DeathRecordKind { New, Correction, Cancellation }
            ExecutionStatus { Executed, NotExecuted }
        }
        records_out! {
            RecordOutcome { locator, outcome }
            ImportOutput { records, claims, follow_ups, warnings }
        }
        variants! {
            ImportInput { Document, Ipra }
            ExecuteInput { Execution, Plan }
            ExportInput { ReportSection, ReportPackage, Facts, Requests }
        }
    };
}

/// The look-ups' organisation record, the same in every 1.x version.
macro_rules! host_types {
    () => {
        mod host {
            use super::super::{model, Adapt};
            use super::wit_host as wit;
            records! {
                Organisation { ogrn, name, department, territory_code }
            }
        }
    };
}

/// Interface 1.0.0, as released: no receipts.
mod v1_0 {
    use super::{model, Adapt};
    use crate::runtime::v1_0::ipra::plugin::host as wit_host;
    use crate::runtime::v1_0::ipra::plugin::types as wit;
    since_1_0!();
    variants_out! {
        Normalized { Ipra, PriorReport, Death, Reference, Skipped }
    }
    host_types!();
}

/// Interface 1.1.0: 1.0 and receipts.
mod v1_1 {
    use super::{model, Adapt};
    use crate::runtime::v1_1::ipra::plugin::host as wit_host;
    use crate::runtime::v1_1::ipra::plugin::types as wit;
    since_1_0!();
    records! {
        Receipt { document_name, accepted, reason, extra }
    }
    variants_out! {
        Normalized { Ipra, PriorReport, Death, Reference, Receipt, Skipped }
    }
    host_types!();
}
