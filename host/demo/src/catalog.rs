//! Fixed value lists the generator draws from: territories, names, measures, TSR items.
//! Values are ordinary Russian words and public classifier entries; none is a real person.

/// A municipal district (or city district) of the demo region, Республика Татарстан.
pub(crate) struct Territory {
    /// OKTMO code of the municipal formation.
    pub(crate) code: &'static str,
    /// Full name, as in the OKTMO.
    pub(crate) name: &'static str,
    /// Short name as FRI addresses carry it in `District`/`DistrictName`/`AreaName`.
    pub(crate) short: &'static str,
    /// Type abbreviation in `AreaTypeName`: `р-н` or `г.о.`.
    pub(crate) area_type: &'static str,
    /// Genitive form for organisation names ("Бугульминского муниципального района").
    pub(crate) genitive: &'static str,
    /// Administrative centre.
    pub(crate) city: &'static str,
    /// First four digits of the centre's postal codes.
    pub(crate) zip: u32,
    /// Relative number of disabled residents (weights the choice of territory).
    pub(crate) weight: u32,
}

pub(crate) const REGION_NAME: &str = "Республика Татарстан";

pub(crate) const TERRITORIES: &[Territory] = &[
    Territory {
        code: "92701000",
        name: "город Казань",
        short: "город Казань",
        area_type: "г.о.",
        genitive: "города Казани",
        city: "Казань",
        zip: 4200,
        weight: 30,
    },
    Territory {
        code: "92730000",
        name: "город Набережные Челны",
        short: "город Набережные Челны",
        area_type: "г.о.",
        genitive: "города Набережные Челны",
        city: "Набережные Челны",
        zip: 4238,
        weight: 14,
    },
    Territory {
        code: "92608000",
        name: "Альметьевский муниципальный район",
        short: "Альметьевский",
        area_type: "р-н",
        genitive: "Альметьевского муниципального района",
        city: "Альметьевск",
        zip: 4234,
        weight: 8,
    },
    Territory {
        code: "92644000",
        name: "Нижнекамский муниципальный район",
        short: "Нижнекамский",
        area_type: "р-н",
        genitive: "Нижнекамского муниципального района",
        city: "Нижнекамск",
        zip: 4235,
        weight: 8,
    },
    Territory {
        code: "92628000",
        name: "Зеленодольский муниципальный район",
        short: "Зеленодольский",
        area_type: "р-н",
        genitive: "Зеленодольского муниципального района",
        city: "Зеленодольск",
        zip: 4225,
        weight: 6,
    },
    Territory {
        code: "92617000",
        name: "Бугульминский муниципальный район",
        short: "Бугульминский",
        area_type: "р-н",
        genitive: "Бугульминского муниципального района",
        city: "Бугульма",
        zip: 4232,
        weight: 5,
    },
    Territory {
        code: "92626000",
        name: "Елабужский муниципальный район",
        short: "Елабужский",
        area_type: "р-н",
        genitive: "Елабужского муниципального района",
        city: "Елабуга",
        zip: 4236,
        weight: 4,
    },
    Territory {
        code: "92636000",
        name: "Лениногорский муниципальный район",
        short: "Лениногорский",
        area_type: "р-н",
        genitive: "Лениногорского муниципального района",
        city: "Лениногорск",
        zip: 4232,
        weight: 4,
    },
    Territory {
        code: "92659000",
        name: "Чистопольский муниципальный район",
        short: "Чистопольский",
        area_type: "р-н",
        genitive: "Чистопольского муниципального района",
        city: "Чистополь",
        zip: 4229,
        weight: 4,
    },
    Territory {
        code: "92602000",
        name: "Азнакаевский муниципальный район",
        short: "Азнакаевский",
        area_type: "р-н",
        genitive: "Азнакаевского муниципального района",
        city: "Азнакаево",
        zip: 4233,
        weight: 3,
    },
    Territory {
        code: "92614000",
        name: "Бавлинский муниципальный район",
        short: "Бавлинский",
        area_type: "р-н",
        genitive: "Бавлинского муниципального района",
        city: "Бавлы",
        zip: 4239,
        weight: 2,
    },
    Territory {
        code: "92639000",
        name: "Менделеевский муниципальный район",
        short: "Менделеевский",
        area_type: "р-н",
        genitive: "Менделеевского муниципального района",
        city: "Менделеевск",
        zip: 4236,
        weight: 2,
    },
];

/// `TERRITORIES[i].weight`, as an array for drawing without allocation.
pub(crate) const TERRITORY_WEIGHTS: [u32; 12] = {
    let mut w = [0u32; 12];
    let mut i = 0;
    while i < TERRITORIES.len() {
        w[i] = TERRITORIES[i].weight;
        i += 1;
    }
    w
};

/// The six departments (sections) in the order the generator lays out organisations.
pub(crate) const DEPARTMENTS: [&str; 6] = ["health", "employment", "education", "social-protection", "sport", "tsr"];

/// Surnames as (male, female) pairs, upper case as the FRI writes them.
pub(crate) const SURNAMES: &[(&str, &str)] = &[
    ("ИВАНОВ", "ИВАНОВА"),
    ("СМИРНОВ", "СМИРНОВА"),
    ("КУЗНЕЦОВ", "КУЗНЕЦОВА"),
    ("ПОПОВ", "ПОПОВА"),
    ("ВАСИЛЬЕВ", "ВАСИЛЬЕВА"),
    ("ПЕТРОВ", "ПЕТРОВА"),
    ("СОКОЛОВ", "СОКОЛОВА"),
    ("МИХАЙЛОВ", "МИХАЙЛОВА"),
    ("НОВИКОВ", "НОВИКОВА"),
    ("ФЕДОРОВ", "ФЕДОРОВА"),
    ("МОРОЗОВ", "МОРОЗОВА"),
    ("ВОЛКОВ", "ВОЛКОВА"),
    ("АЛЕКСЕЕВ", "АЛЕКСЕЕВА"),
    ("ЛЕБЕДЕВ", "ЛЕБЕДЕВА"),
    ("СЕМЕНОВ", "СЕМЕНОВА"),
    ("ЕГОРОВ", "ЕГОРОВА"),
    ("ПАВЛОВ", "ПАВЛОВА"),
    ("КОЗЛОВ", "КОЗЛОВА"),
    ("СТЕПАНОВ", "СТЕПАНОВА"),
    ("НИКОЛАЕВ", "НИКОЛАЕВА"),
    ("ОРЛОВ", "ОРЛОВА"),
    ("АНДРЕЕВ", "АНДРЕЕВА"),
    ("МАКАРОВ", "МАКАРОВА"),
    ("НИКИТИН", "НИКИТИНА"),
    ("ЗАХАРОВ", "ЗАХАРОВА"),
    ("ЗАЙЦЕВ", "ЗАЙЦЕВА"),
    ("СОЛОВЬЕВ", "СОЛОВЬЕВА"),
    ("БОРИСОВ", "БОРИСОВА"),
    ("ЯКОВЛЕВ", "ЯКОВЛЕВА"),
    ("ГРИГОРЬЕВ", "ГРИГОРЬЕВА"),
    ("РОМАНОВ", "РОМАНОВА"),
    ("ВОРОБЬЕВ", "ВОРОБЬЕВА"),
    ("ГАРИПОВ", "ГАРИПОВА"),
    ("ХАЙРУЛЛИН", "ХАЙРУЛЛИНА"),
    ("САФИН", "САФИНА"),
    ("ГАЛИЕВ", "ГАЛИЕВА"),
    ("МУХАМЕТЗЯНОВ", "МУХАМЕТЗЯНОВА"),
    ("ЗАКИРОВ", "ЗАКИРОВА"),
    ("ВАЛИЕВ", "ВАЛИЕВА"),
    ("ШАРИПОВ", "ШАРИПОВА"),
    ("НУРИЕВ", "НУРИЕВА"),
    ("АХМЕТОВ", "АХМЕТОВА"),
    ("ГИЗАТУЛЛИН", "ГИЗАТУЛЛИНА"),
    ("САБИРОВ", "САБИРОВА"),
    ("ФАЙЗУЛЛИН", "ФАЙЗУЛЛИНА"),
    ("ХАБИБУЛЛИН", "ХАБИБУЛЛИНА"),
    ("МИННИХАНОВ", "МИННИХАНОВА"),
    ("ЯРУЛЛИН", "ЯРУЛЛИНА"),
    ("КОВАЛЕВСКИЙ", "КОВАЛЕВСКАЯ"),
    ("ЗАВОДСКИЙ", "ЗАВОДСКАЯ"),
    ("БЕЛОВ", "БЕЛОВА"),
    ("КРЫЛОВ", "КРЫЛОВА"),
];

pub(crate) const MALE_NAMES: &[&str] = &[
    "АЛЕКСАНДР",
    "СЕРГЕЙ",
    "ВЛАДИМИР",
    "АНДРЕЙ",
    "АЛЕКСЕЙ",
    "ДМИТРИЙ",
    "НИКОЛАЙ",
    "ЕВГЕНИЙ",
    "ЮРИЙ",
    "ИГОРЬ",
    "ВИКТОР",
    "МИХАИЛ",
    "ОЛЕГ",
    "ИВАН",
    "ПАВЕЛ",
    "АРТЕМ",
    "МАКСИМ",
    "КИРИЛЛ",
    "РУСТАМ",
    "ИЛЬДАР",
    "АЙДАР",
    "РИНАТ",
    "МАРАТ",
    "РАДИК",
    "ТИМУР",
    "АЙРАТ",
    "РАМИЛЬ",
    "ДАНИС",
    "ЕГОР",
    "МАТВЕЙ",
];

pub(crate) const FEMALE_NAMES: &[&str] = &[
    "ЕЛЕНА",
    "ТАТЬЯНА",
    "ОЛЬГА",
    "НАТАЛЬЯ",
    "ИРИНА",
    "СВЕТЛАНА",
    "ГАЛИНА",
    "ЛЮДМИЛА",
    "НИНА",
    "ВАЛЕНТИНА",
    "ЛЮБОВЬ",
    "МАРИНА",
    "АННА",
    "МАРИЯ",
    "ЕКАТЕРИНА",
    "ДАРЬЯ",
    "ПОЛИНА",
    "СОФИЯ",
    "ГУЛЬНАРА",
    "АЛСУ",
    "ЛИЛИЯ",
    "ЭЛЬМИРА",
    "РЕЗЕДА",
    "ГУЗЕЛЬ",
    "ЛЕЙСАН",
    "ДИНАРА",
    "АЛИНА",
    "ВЕРА",
    "РАИСА",
    "ЗУЛЬФИЯ",
];

/// Patronymics as (male, female) pairs.
pub(crate) const PATRONYMICS: &[(&str, &str)] = &[
    ("АЛЕКСАНДРОВИЧ", "АЛЕКСАНДРОВНА"),
    ("СЕРГЕЕВИЧ", "СЕРГЕЕВНА"),
    ("ВЛАДИМИРОВИЧ", "ВЛАДИМИРОВНА"),
    ("АНДРЕЕВИЧ", "АНДРЕЕВНА"),
    ("АЛЕКСЕЕВИЧ", "АЛЕКСЕЕВНА"),
    ("ДМИТРИЕВИЧ", "ДМИТРИЕВНА"),
    ("НИКОЛАЕВИЧ", "НИКОЛАЕВНА"),
    ("ЕВГЕНЬЕВИЧ", "ЕВГЕНЬЕВНА"),
    ("ЮРЬЕВИЧ", "ЮРЬЕВНА"),
    ("ИГОРЕВИЧ", "ИГОРЕВНА"),
    ("ВИКТОРОВИЧ", "ВИКТОРОВНА"),
    ("МИХАЙЛОВИЧ", "МИХАЙЛОВНА"),
    ("ОЛЕГОВИЧ", "ОЛЕГОВНА"),
    ("ИВАНОВИЧ", "ИВАНОВНА"),
    ("ПАВЛОВИЧ", "ПАВЛОВНА"),
    ("РУСТАМОВИЧ", "РУСТАМОВНА"),
    ("ИЛЬДАРОВИЧ", "ИЛЬДАРОВНА"),
    ("РИНАТОВИЧ", "РИНАТОВНА"),
    ("МАРАТОВИЧ", "МАРАТОВНА"),
    ("РАДИКОВИЧ", "РАДИКОВНА"),
    ("ТИМУРОВИЧ", "ТИМУРОВНА"),
    ("АЙРАТОВИЧ", "АЙРАТОВНА"),
];

/// Names in title case for officials who sign documents (the 2022 form writes them so).
pub(crate) const OFFICIALS: &[(&str, &str, &str)] = &[
    ("Гарипова", "Лилия", "Ринатовна"),
    ("Соколов", "Андрей", "Викторович"),
    ("Хайруллина", "Гульнара", "Маратовна"),
    ("Морозова", "Елена", "Сергеевна"),
    ("Закиров", "Айдар", "Ильдарович"),
    ("Васильева", "Ольга", "Николаевна"),
    ("Петров", "Игорь", "Юрьевич"),
    ("Сафина", "Алсу", "Радиковна"),
    ("Лебедева", "Татьяна", "Павловна"),
];

pub(crate) const STREETS: &[&str] = &[
    "Ленина",
    "Пушкина",
    "Гагарина",
    "Мира",
    "Советская",
    "Молодежная",
    "Школьная",
    "Садовая",
    "Центральная",
    "Тукая",
    "Баумана",
    "Джалиля",
    "Чапаева",
    "Кирова",
    "Комсомольская",
    "Победы",
    "Строителей",
    "Нефтяников",
    "Заводская",
    "Октябрьская",
    "Набережная",
    "Лесная",
    "Зеленая",
    "Весенняя",
    "Энергетиков",
    "Химиков",
];

pub(crate) const BIRTH_PLACES: &[&str] = &[
    "г. Казань",
    "г. Набережные Челны",
    "г. Альметьевск",
    "г. Нижнекамск",
    "г. Бугульма",
    "г. Елабуга",
    "г. Зеленодольск",
    "г. Чистополь",
    "Татарская АССР",
    "г. Ульяновск",
    "г. Уфа",
    "г. Самара",
];

pub(crate) const OCCUPATIONS: &[(&str, &str)] = &[
    ("Водитель автомобиля", "4 класс"),
    ("Слесарь-ремонтник", "5 разряд"),
    ("Бухгалтер", "без категории"),
    ("Учитель", "высшая категория"),
    ("Продавец продовольственных товаров", "3 разряд"),
    ("Оператор ЭВМ", "без категории"),
    ("Электромонтер", "4 разряд"),
    ("Инженер-технолог", "вторая категория"),
    ("Повар", "4 разряд"),
    ("Швея", "3 разряд"),
    ("Оператор по добыче нефти и газа", "5 разряд"),
    ("Медицинская сестра", "первая категория"),
];

pub(crate) const EMPLOYERS: &[&str] = &[
    "ООО «Волжская торговая компания»",
    "ПАО «Камский завод»",
    "МБОУ «Средняя общеобразовательная школа № 12»",
    "ООО «Нефтесервис»",
    "АО «Городские электрические сети»",
    "ГАУЗ «Городская поликлиника № 3»",
];

/// One kind of rehabilitation measure, with its codes in both IPRA generations.
pub(crate) struct MeasureKind {
    /// `GroupTypeId` in the 2016–2019 forms.
    pub(crate) group_id: u32,
    /// `GroupTypeName` in the 2016–2019 forms, `EventSubtypeName` in the 2022 form.
    pub(crate) name: &'static str,
}

/// Section of a measure: index into the per-section tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Section {
    Health = 0,
    Employment = 1,
    Education = 2,
    Social = 3,
    Sport = 4,
    Tsr = 5,
}

impl Section {
    /// `EventTypeCode` of the 2022 form (`MSE.IPRA.REHAB`).
    pub(crate) fn event_type(self) -> (u32, &'static str) {
        match self {
            Section::Health => (1, "Мероприятия по медицинской реабилитации или абилитации"),
            Section::Education => (2, "Мероприятия по общему и профессиональному образованию"),
            Section::Employment => (3, "Мероприятия по профессиональной реабилитации или абилитации"),
            Section::Social => (4, "Мероприятия по социальной реабилитации или абилитации"),
            Section::Sport => (5, "Мероприятия по физической реабилитации или абилитации (адаптивная физическая культура и адаптивный спорт)"),
            Section::Tsr => (6, "Технические средства реабилитации и услуги"),
        }
    }

    pub(crate) fn measures(self) -> &'static [MeasureKind] {
        match self {
            Section::Health => HEALTH_MEASURES,
            Section::Employment => EMPLOYMENT_MEASURES,
            Section::Education => EDUCATION_MEASURES,
            Section::Social => SOCIAL_MEASURES,
            Section::Sport => SPORT_MEASURES,
            Section::Tsr => SERVICE_MEASURES,
        }
    }
}

const HEALTH_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 1,
        name: "Медицинская реабилитация",
    },
    MeasureKind {
        group_id: 2,
        name: "Реконструктивная хирургия",
    },
    MeasureKind {
        group_id: 3,
        name: "Протезирование и ортезирование",
    },
    MeasureKind {
        group_id: 4,
        name: "Санаторно-курортное лечение",
    },
    MeasureKind {
        group_id: 5,
        name: "Восстановительная терапия",
    },
];
const EMPLOYMENT_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 6,
        name: "Профессиональная ориентация",
    },
    MeasureKind {
        group_id: 7,
        name: "Содействие в трудоустройстве",
    },
    MeasureKind {
        group_id: 8,
        name: "Производственная адаптация",
    },
    MeasureKind {
        group_id: 9,
        name: "Социально-производственная адаптация",
    },
];
const EDUCATION_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 10,
        name: "Психологическая помощь, оказываемая в образовательной организации",
    },
    MeasureKind {
        group_id: 11,
        name: "Адаптированная образовательная программа",
    },
    MeasureKind {
        group_id: 12,
        name: "Профессиональная ориентация, оказываемая в образовательной организации",
    },
    MeasureKind {
        group_id: 13,
        name: "Создание специальных условий для получения образования",
    },
];
const SOCIAL_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 43,
        name: "Социально-средовая реабилитация или абилитация",
    },
    MeasureKind {
        group_id: 44,
        name: "Социально-психологическая реабилитация или абилитация",
    },
    MeasureKind {
        group_id: 45,
        name: "Социокультурная реабилитация или абилитация",
    },
    MeasureKind {
        group_id: 46,
        name: "Социально-бытовая адаптация",
    },
];
const SPORT_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 14,
        name: "Физкультурно-оздоровительные мероприятия и спорт",
    },
    MeasureKind {
        group_id: 15,
        name: "Адаптивная физическая культура",
    },
    MeasureKind {
        group_id: 16,
        name: "Занятия адаптивным спортом",
    },
];
const SERVICE_MEASURES: &[MeasureKind] = &[
    MeasureKind {
        group_id: 20,
        name: "Обеспечение социальным транспортным средством",
    },
    MeasureKind {
        group_id: 21,
        name: "Услуги по ремонту технических средств реабилитации",
    },
];

/// A TSR (technical rehabilitation aid) of the federal list (order 86н classification).
pub(crate) struct TsrKind {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) max_quantity: u64,
    pub(crate) prosthesis: bool,
}

pub(crate) const TSR_FEDERAL: &[TsrKind] = &[
    TsrKind { code: "6-01-01", name: "Трость опорная, не регулируемая по высоте, без устройства противоскольжения", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "6-01-02", name: "Трость опорная, регулируемая по высоте, без устройства противоскольжения", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "6-03-01", name: "Трость тактильная (белая трость) цельная", unit: "шт", max_quantity: 2, prosthesis: false },
    TsrKind { code: "6-08-01", name: "Ходунки шагающие", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "7-01-01", name: "Кресло-коляска с ручным приводом комнатная (для инвалидов и детей-инвалидов)", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "7-02-01", name: "Кресло-коляска с ручным приводом прогулочная (для инвалидов и детей-инвалидов)", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "7-04-01", name: "Кресло-коляска с электроприводом (для инвалидов и детей-инвалидов)", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "8-07-09", name: "Протез бедра модульный, в том числе при врожденном недоразвитии", unit: "шт", max_quantity: 1, prosthesis: true },
    TsrKind { code: "9-01-01", name: "Кресло-стул с санитарным оснащением (с колесами)", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "10-02-01", name: "Противопролежневый матрац полиуретановый", unit: "шт", max_quantity: 1, prosthesis: false },
    TsrKind { code: "21-01-02", name: "Впитывающие простыни (пеленки) размером не менее 60 x 90 см (впитываемостью от 1200 до 1900 мл)", unit: "шт", max_quantity: 1080, prosthesis: false },
    TsrKind { code: "22-01-02", name: "Подгузники для взрослых, размер \"M\" (объем талии/бедер до 120 см), с полным влагопоглощением не менее 1400 г", unit: "шт", max_quantity: 1080, prosthesis: false },
    TsrKind { code: "23-01-02", name: "Слуховой аппарат цифровой заушный мощный", unit: "шт", max_quantity: 2, prosthesis: false },
    TsrKind { code: "19-01-01", name: "Специальное устройство для чтения \"говорящих книг\" на флэш-картах", unit: "шт", max_quantity: 1, prosthesis: false },
];

/// TSR the region provides from its own budget (codes outside the federal list are free-form in the FRI).
pub(crate) const TSR_REGIONAL: &[TsrKind] = &[
    TsrKind {
        code: "19-06-01",
        name: "Тонометр для измерения артериального давления с речевым выходом",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
    TsrKind {
        code: "19-05-01",
        name: "Телевизор с телетекстом для приема программ со скрытыми субтитрами",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
    TsrKind {
        code: "19-07-01",
        name: "Часы наручные с речевым выходом",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
    TsrKind {
        code: "6-09-01",
        name: "Поручни (перила) для самоподнимания угловые",
        unit: "шт",
        max_quantity: 2,
        prosthesis: false,
    },
];

/// Goods a family may buy with maternity capital (Government order 831-р numbering).
pub(crate) const TSR_MSK: &[TsrKind] = &[
    TsrKind {
        code: "09 33 21",
        name: "Ванны переносные и складывающиеся",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
    TsrKind {
        code: "12 22 18",
        name: "Кресла-коляски с электроприводом",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
    TsrKind {
        code: "22 36 03",
        name: "Клавиатуры компьютерные специальные",
        unit: "шт",
        max_quantity: 1,
        prosthesis: false,
    },
];

/// Kinds of help in overcoming barriers (`HelpId`/`HelpValue`).
pub(crate) const HELP_KINDS: &[&str] = &[
    "Сопровождение инвалида, имеющего стойкие расстройства функции зрения и самостоятельного передвижения, и оказание ему помощи на объектах социальной, инженерной и транспортной инфраструктур",
    "Оказание работниками организаций, предоставляющих услуги населению, помощи инвалидам в преодолении барьеров, мешающих получению ими услуг наравне с другими лицами",
    "Помощь инвалиду, передвигающемуся в кресле-коляске, на объектах социальной, инженерной и транспортной инфраструктур, при входе в такие объекты и выходе из них",
    "Обеспечение допуска на объекты социальной, инженерной и транспортной инфраструктур, в которых предоставляются услуги, собаки-проводника при наличии документа, подтверждающего ее специальное обучение",
    "Предоставление инвалиду, имеющему одновременно нарушения функций слуха и зрения, услуг тифлосурдопереводчика, включая обеспечение его допуска на объекты",
    "Предоставление инвалидам по слуху при необходимости услуги с использованием русского жестового языка, включая обеспечение допуска сурдопереводчика",
];

pub(crate) const HOUSING: &[&str] = &[
    "Поручни",
    "Пандус",
    "Расширение дверных проемов",
    "Оборудование санитарной комнаты",
];

pub(crate) const LIFE_CATEGORIES: &[&str] = &[
    "Способность к самообслуживанию",
    "Способность к самостоятельному передвижению",
    "Способность к ориентации",
    "Способность к общению",
    "Способность контролировать свое поведение",
    "Способность к обучению",
    "Способность к трудовой деятельности",
];

pub(crate) const DEGREES: &[&str] = &["Первая", "Вторая", "Третья"];

pub(crate) const PROGNOZ: &[&str] = &[
    "Благоприятный",
    "Относительно благоприятный",
    "Сомнительный (неясный)",
    "Неблагоприятный",
];
pub(crate) const POTENTIAL: &[&str] = &["Высокий", "Удовлетворительный", "Низкий"];

pub(crate) const LOCATIONS: &[&str] = &[
    "По месту жительства (по месту пребывания, фактического проживания на территории Российской Федерации)",
    "В организации социального обслуживания, оказывающей социальные услуги в стационарной форме социального обслуживания",
];

/// Disability groups: id and name; id 4 stands for the category «ребенок-инвалид».
pub(crate) const GROUPS: &[(u32, &str)] = &[
    (1, "Первая группа"),
    (2, "Вторая группа"),
    (3, "Третья группа"),
    (4, "Категория \"ребенок-инвалид\""),
];

/// Causes of disability: id and name.
pub(crate) const REASONS: &[(u32, &str)] = &[
    (1, "Общее заболевание"),
    (2, "Инвалидность с детства"),
    (3, "Трудовое увечье"),
    (4, "Профессиональное заболевание"),
    (5, "Военная травма"),
    (6, "Ребенок-инвалид"),
];
