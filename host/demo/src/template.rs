//! Templates of FRI documents, derived from the public samples, pre-split into text and value slots.
//! Parsed once; rendering then only copies static text and writes values, which keeps generation fast.

use std::sync::OnceLock;

macro_rules! named_slots {
    ($($variant:ident = $name:literal,)*) => {
        /// A value the generator writes into a template.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Named { $($variant,)* }

        impl Named {
            fn from_name(name: &str) -> Option<Named> {
                match name {
                    $($name => Some(Named::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

named_slots! {
    ActDate = "act_date", ActDocId = "act_doc_id", ActKey = "act_key", ActNumber = "act_number",
    ActRegistered = "act_registered", AddrAreaType = "addr_area_type", AddrCityGuid = "addr_city_guid",
    AddrCity = "addr_city", AddrCorpus = "addr_corpus", AddrDistrictGuid = "addr_district_guid",
    AddrDistrict = "addr_district", AddrFlat = "addr_flat", AddrHouseGuid = "addr_house_guid",
    AddrHouse = "addr_house", AddrStreetFull = "addr_street_full", AddrStreetGuid = "addr_street_guid",
    AddrStreet = "addr_street", AddrString = "addr_string", AddrZip = "addr_zip", AdjDate = "adj_date",
    AdjGuid = "adj_guid", AdjNumber = "adj_number", AgeMonths = "age_months", AgeYears = "age_years",
    Age = "age", BirthDate = "birth_date", BirthPlace = "birth_place", BuroAddress = "buro_address",
    BuroFull = "buro_full", BuroId = "buro_id", BuroNumber = "buro_number", BuroOrg = "buro_org",
    BuroShort = "buro_short", CertNumber = "cert_number", CertSeries = "cert_series",
    ChiefFirstUpper = "chief_first_upper", ChiefFirst = "chief_first", ChiefLastUpper = "chief_last_upper",
    ChiefLast = "chief_last", ChiefMiddleUpper = "chief_middle_upper", ChiefMiddle = "chief_middle",
    DecisionDate = "decision_date", DevelopDate = "develop_date", DisEndDate = "dis_end_date",
    DisStartDate = "dis_start_date", Email = "email", EmployerAddress = "employer_address",
    EmployerName = "employer_name", EmployerOgrn = "employer_ogrn", EndClass = "end_class", EndDate = "end_date",
    EvExecutorName = "ev_executor_name", EvExecutorOgrn = "ev_executor_ogrn", EvFrom = "ev_from",
    EvGroupId = "ev_group_id", EvGroupName = "ev_group_name", EvGuid = "ev_guid",
    EvIndefinitely = "ev_indefinitely", EvSubtypeCode = "ev_subtype_code", EvSubtypeName = "ev_subtype_name",
    EvToClass = "ev_to_class", EvTo = "ev_to", EvTypeCode = "ev_type_code", EvTypeName = "ev_type_name",
    ExAreaType = "ex_area_type", ExBuilding = "ex_building", ExCity = "ex_city", ExDistrict = "ex_district",
    ExHouseGuid = "ex_house_guid", ExHouse = "ex_house", ExStreet = "ex_street", ExZip = "ex_zip",
    ExamDate = "exam_date", ExtractId = "extract_id", ExtractTime = "extract_time", FarFuture = "far_future",
    FirstName = "first_name", Gender = "gender", GroupId = "group_id", GroupName = "group_name",
    GuardianOgrn = "guardian_ogrn", HasRep = "has_rep", Height = "height", HelpId = "help_id",
    HelpValue = "help_value", Hex32Lower = "hex32_lower", Hex32 = "hex32", HousingCode = "housing_code",
    HousingName = "housing_name", IdActNumber = "id_act_number", IdCode = "id_code", IdDept = "id_dept",
    IdDocName = "id_doc_name", IdIssueDate = "id_issue_date", IdIssuer = "id_issuer", IdNumber = "id_number",
    IdSeries = "id_series", IdTypeName = "id_type_name", IpraDocId = "ipra_doc_id", IpraKey = "ipra_key",
    IpraNumber = "ipra_number", IpraRegistered = "ipra_registered", IpraSeq = "ipra_seq", IsChild = "is_child",
    IsFirst = "is_first", IssueDate = "issue_date", LastName = "last_name", LifeCatCode = "life_cat_code",
    LifeCatName = "life_cat_name", LifeDegreeCode = "life_degree_code", LifeDegreeName = "life_degree_name",
    LocationCode = "location_code", LocationName = "location_name", MedOrgAddress = "med_org_address",
    MedOrgCity = "med_org_city", MedOrgGuid = "med_org_guid", MedOrgHouse = "med_org_house",
    MedOrgName = "med_org_name", MedOrgOgrn = "med_org_ogrn", MedOrgStreet = "med_org_street",
    MiddleName = "middle_name", Occupation = "occupation", PersonRegistered = "person_registered",
    Phone = "phone", PotentialId = "potential_id", PotentialValue = "potential_value", PrognozId = "prognoz_id",
    PrognozValue = "prognoz_value", ProtocolDate = "protocol_date", ProtocolNumber = "protocol_number",
    Qualification = "qualification", ReasonId = "reason_id", ReasonName = "reason_name", RepAge = "rep_age",
    RepAuthDate = "rep_auth_date", RepAuthIssuer = "rep_auth_issuer", RepAuthNumber = "rep_auth_number",
    RepBirthDate = "rep_birth_date", RepDocDate = "rep_doc_date", RepDocIssuer = "rep_doc_issuer",
    RepDocNumber = "rep_doc_number", RepDocSeries = "rep_doc_series", RepEmail = "rep_email",
    RepFirst = "rep_first", RepKindDoc = "rep_kind_doc", RepKind = "rep_kind", RepLast = "rep_last",
    RepMiddle = "rep_middle", RepSnils = "rep_snils", ResocContractDate = "resoc_contract_date",
    ResocContractName = "resoc_contract_name", ResocContractNumber = "resoc_contract_number",
    ResocDate = "resoc_date", ResocDocId = "resoc_doc_id", ResocExecDate = "resoc_exec_date",
    ResocExecutor = "resoc_executor", ResocKey = "resoc_key", ResocNumber = "resoc_number",
    ResocRegistered = "resoc_registered", SfrCity = "sfr_city", SfrGuid = "sfr_guid", SfrHouse = "sfr_house",
    SfrName = "sfr_name", SfrOgrn = "sfr_ogrn", SfrStreet = "sfr_street", SignerFirst = "signer_first",
    SignerLast = "signer_last", SignerMiddle = "signer_middle", Snils = "snils", SubmissionType = "submission_type",
    TsrBudgetCode = "tsr_budget_code", TsrBudgetName = "tsr_budget_name", TsrCode = "tsr_code",
    TsrFirstIpra = "tsr_first_ipra", TsrName = "tsr_name", TsrParamGuid = "tsr_param_guid",
    TsrProsthesis = "tsr_prosthesis", TsrQuantity = "tsr_quantity", TsrUnitId = "tsr_unit_id",
    TsrUnitName = "tsr_unit_name", Uuid = "uuid", Weight = "weight",
}

/// How many times a record template is emitted; the count comes from the extract's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Repeat {
    Once,
    Never,
    Phones,
    Med,
    Prof,
    Social,
    Psychoped,
    Sport,
    Services,
    TsrFed,
    Msk,
    TsrReg,
    TsrOwn,
    TsrLocal,
    Help,
    Rep,
    WorkingAge,
    ProfCond,
    StageLoss,
    Life,
    Housing,
    WpRec,
    Rehab,
    TsrItems,
    TsrParams,
    TsrServices,
    ResocEnv,
    ResocPsy,
}

impl Repeat {
    fn from_name(name: &str) -> Option<Repeat> {
        Some(match name {
            "once" => Repeat::Once,
            "never" => Repeat::Never,
            "phones" => Repeat::Phones,
            "med" => Repeat::Med,
            "prof" => Repeat::Prof,
            "social" => Repeat::Social,
            "psychoped" => Repeat::Psychoped,
            "sport" => Repeat::Sport,
            "services" => Repeat::Services,
            "tsr_fed" => Repeat::TsrFed,
            "msk" => Repeat::Msk,
            "tsr_reg" => Repeat::TsrReg,
            "tsr_own" => Repeat::TsrOwn,
            "tsr_local" => Repeat::TsrLocal,
            "help" => Repeat::Help,
            "rep" => Repeat::Rep,
            "working_age" => Repeat::WorkingAge,
            "prof_cond" => Repeat::ProfCond,
            "stage_loss" => Repeat::StageLoss,
            "life" => Repeat::Life,
            "housing" => Repeat::Housing,
            "wp_rec" => Repeat::WpRec,
            "rehab" => Repeat::Rehab,
            "tsr_items" => Repeat::TsrItems,
            "tsr_params" => Repeat::TsrParams,
            "tsr_services" => Repeat::TsrServices,
            "resoc_env" => Repeat::ResocEnv,
            "resoc_psy" => Repeat::ResocPsy,
            _ => return None,
        })
    }
}

/// A value slot: a named value of the extract or a free choice among literals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Named(Named),
    Pick(Vec<&'static str>),
    Int(u64, u64),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(&'static str),
    Slot(Slot),
}

pub(crate) struct RecordTemplate {
    pub(crate) repeat: Repeat,
    pub(crate) pieces: Vec<Piece>,
}

/// One `fri:Документ`: its requisites, its records in the order of the real samples, its closing tags.
pub(crate) struct DocTemplate {
    pub(crate) version: &'static str,
    pub(crate) head: Vec<Piece>,
    pub(crate) records: Vec<RecordTemplate>,
    pub(crate) tail: Vec<Piece>,
}

/// The `fri:ВыпискаФРИ` around the documents.
pub(crate) struct Envelope {
    pub(crate) head: Vec<Piece>,
    pub(crate) tail: Vec<Piece>,
}

pub(crate) struct Templates {
    pub(crate) envelope: Envelope,
    pub(crate) ipra_20160101: DocTemplate,
    pub(crate) ipra_20170812: DocTemplate,
    pub(crate) ipra_20190101: DocTemplate,
    pub(crate) ipra_20221024: DocTemplate,
    pub(crate) act_20190401: DocTemplate,
    pub(crate) act_20220919: DocTemplate,
    pub(crate) resoc_20180416: DocTemplate,
}

const ENVELOPE: &str = include_str!("../templates/extract.tpl");
const IPRA_20160101: &str = include_str!("../templates/ipra_20160101.tpl");
const IPRA_20170812: &str = include_str!("../templates/ipra_20170812.tpl");
const IPRA_20190101: &str = include_str!("../templates/ipra_20190101.tpl");
const IPRA_20221024: &str = include_str!("../templates/ipra_20221024.tpl");
const ACT_20190401: &str = include_str!("../templates/act_20190401.tpl");
const ACT_20220919: &str = include_str!("../templates/act_20220919.tpl");
const RESOC_20180416: &str = include_str!("../templates/resoc_20180416.tpl");

/// The parsed templates. They are compiled into the crate, so a failure here is a defect of the
/// crate itself (caught by its tests), never of anything a user supplies.
pub(crate) fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| match parse_all() {
        Ok(t) => t,
        Err(e) => panic!("встроенный шаблон выписки ФРИ повреждён: {e}"),
    })
}

fn parse_all() -> Result<Templates, String> {
    Ok(Templates {
        envelope: parse_envelope(ENVELOPE)?,
        ipra_20160101: parse_doc(IPRA_20160101)?,
        ipra_20170812: parse_doc(IPRA_20170812)?,
        ipra_20190101: parse_doc(IPRA_20190101)?,
        ipra_20221024: parse_doc(IPRA_20221024)?,
        act_20190401: parse_doc(ACT_20190401)?,
        act_20220919: parse_doc(ACT_20220919)?,
        resoc_20180416: parse_doc(RESOC_20180416)?,
    })
}

/// Splits a template file into sections: (directive line, body text).
fn sections(src: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.strip_prefix('@') {
        let line_end = at.find('\n').unwrap_or(at.len());
        let directive = &at[..line_end];
        let body_start = (line_end + 1).min(at.len());
        let body_all = &at[body_start..];
        let body_len = body_all.find("\n@").map(|p| p + 1).unwrap_or(body_all.len());
        out.push((directive, &body_all[..body_len]));
        rest = &body_all[body_len..];
    }
    out
}

fn parse_envelope(src: &'static str) -> Result<Envelope, String> {
    let mut head = None;
    let mut tail = None;
    for (directive, body) in sections(src) {
        match directive {
            "head" => head = Some(pieces(body)?),
            "tail" => tail = Some(pieces(body)?),
            other => return Err(format!("неизвестная директива @{other}")),
        }
    }
    Ok(Envelope {
        head: head.ok_or("нет @head")?,
        tail: tail.ok_or("нет @tail")?,
    })
}

fn parse_doc(src: &'static str) -> Result<DocTemplate, String> {
    let mut version = None;
    let mut head = Vec::new();
    let mut records = Vec::new();
    let mut tail = None;
    for (directive, body) in sections(src) {
        let mut words = directive.split(' ');
        match words.next() {
            Some("doc") => {
                version = words.next();
                head = pieces(body)?;
            }
            Some("record") => {
                let name = words.next().unwrap_or("");
                let repeat = Repeat::from_name(name).ok_or_else(|| format!("неизвестный повтор {name}"))?;
                records.push(RecordTemplate {
                    repeat,
                    pieces: pieces(body)?,
                });
            }
            Some("tail") => tail = Some(pieces(body)?),
            _ => return Err(format!("неизвестная директива @{directive}")),
        }
    }
    Ok(DocTemplate {
        version: version.ok_or("нет @doc")?,
        head,
        records,
        tail: tail.ok_or("нет @tail")?,
    })
}

fn pieces(body: &'static str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("незакрытый {{")?;
        out.push(Piece::Slot(slot(&after[..end])?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn slot(spec: &'static str) -> Result<Slot, String> {
    if let Some(options) = spec.strip_prefix("pick:") {
        return Ok(Slot::Pick(options.split('|').collect()));
    }
    if let Some(range) = spec.strip_prefix("int:") {
        let (lo, hi) = range.split_once(':').ok_or_else(|| format!("плохой диапазон {spec}"))?;
        let lo = lo.parse().map_err(|_| format!("плохой диапазон {spec}"))?;
        let hi = hi.parse().map_err(|_| format!("плохой диапазон {spec}"))?;
        return Ok(Slot::Int(lo, hi));
    }
    Named::from_name(spec)
        .map(Slot::Named)
        .ok_or_else(|| format!("неизвестное поле {{{{{spec}}}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_templates_parse() {
        let t = parse_all().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.ipra_20190101.version, "IPRA_20190101");
        assert_eq!(t.ipra_20221024.version, "IPRA_20221024");
        assert!(t.ipra_20190101.records.len() > 25);
        assert!(matches!(t.envelope.head.first(), Some(Piece::Text(s)) if s.starts_with("<?xml")));
    }
}
