"""Reference data for the org generator: names, places, phone and address formats, teams.

Phone numbers use ranges reserved for fiction or documentation where a country has one
(US/CA 555-01xx, GB 07700 900xxx) and otherwise random subscriber digits; e-mail domains are
the reserved ``example.*`` names, so nothing the sandbox generates reaches a real person.

In name lists an entry ``"display|ascii"`` gives the ASCII spelling used for logins when it
cannot be derived by stripping accents (Japanese names).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    names: tuple[str, ...]  # how people type it; the first is the usual spelling
    states: tuple[str, ...]  # ditto for the state or region; empty where nobody fills it in
    zip_pattern: str  # '#' a digit, '@' an upper-case letter, anything else literal
    area: str  # area code used by the country's phone templates


@dataclass(frozen=True)
class Country:
    code: str
    weight: int
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[City, ...]
    streets: tuple[str, ...]  # '{n}' house number, '{s}' suite or flat, '#' a digit
    phones: tuple[str, ...]  # '{a}' area code, '#' a digit
    locale: str
    timezone: str
    language: str


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    Country(
        code="US",
        weight=30,
        first_names=(
            "James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Zoë",
            "José", "Mary-Kate", "D'Andre", "JoAnn", "Chloé", "Tyler", "Aaliyah", "Christopher",
            "Elizabeth", "Nguyễn", "Dakota", "Jean-Baptiste", "Renée",
        ),
        last_names=(
            "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "García",
            "O'Connor", "Nguyen", "Kim", "Patel", "Smith-Jones", "St. John", "McDonald",
            "Van Buren", "Rodríguez", "Washington", "Lee", "O'Neil-Hernández", "DuBois",
        ),
        cities=(
            City(
                ("San Francisco", "SF", "san francisco"), ("CA", "California", "Ca"), "941##", "415"
            ),
            City(("New York", "New York City", "NYC"), ("NY", "New York"), "100##", "212"),
            City(("Austin",), ("TX", "Texas"), "787##", "512"),
            City(("Seattle",), ("WA", "Washington"), "981##", "206"),
            City(("Chicago",), ("IL", "Illinois"), "606##", "312"),
            City(("Boston",), ("MA", "Massachusetts"), "021##", "617"),
            City(("Denver",), ("CO", "Colorado"), "802##", "303"),
            City(("Atlanta",), ("GA", "Georgia"), "303##", "404"),
        ),
        streets=(
            "{n} Market St", "{n} Mission Street, Suite {s}", "{n} Broadway Apt {s}",
            "{n} Main St.", "{n} 5th Avenue, Floor {s}", "{n} Elm Street\nUnit {s}", "PO Box {n}",
            "{n} Martin Luther King Jr. Blvd",
        ),
        phones=(
            "+1 ({a}) 555-01##", "({a}) 555-01##", "{a}.555.01##", "{a}-555-01##", "+1{a}55501##",
            "1-{a}-555-01##", "+1 {a} 555 01## ext. ##", "{a} 555 01##",
        ),
        locale="en_US",
        timezone="America/Los_Angeles",
        language="en",
    ),
    Country(
        code="DE",
        weight=10,
        first_names=(
            "Jürgen", "Lukas", "Sören", "Björn", "Anna-Lena", "Jörg", "Käthe", "Maximilian",
            "Sophie", "Leonie", "Özlem", "Mehmet", "Hans-Peter", "Ursula", "Günther", "Emilia",
            "Karl-Heinz", "Lea", "Jonas", "Friederike",
        ),
        last_names=(
            "Müller", "Schmidt", "Schäfer", "Groß", "Weiß", "Köhler", "von Bülow",
            "Meyer-Lüdenscheid", "Nowak", "Hoffmann", "Schröder", "Fuß", "Krüger",
            "Yılmaz",  # noqa: RUF001 (a Turkish dotless i, on purpose)
            "Wolfeschlegelsteinhausenbergerdorff", "Becker", "zu Guttenberg", "Öztürk",
        ),
        cities=(
            City(("Berlin",), ("Berlin", "BE"), "10###", "30"),
            City(("München", "Muenchen", "Munich"), ("Bayern", "BY", "Bavaria"), "80###", "89"),
            City(("Hamburg",), ("Hamburg", "HH"), "20###", "40"),
            City(
                ("Köln", "Koeln", "Cologne"), ("Nordrhein-Westfalen", "NRW", "NW"), "50###", "221"
            ),
            City(("Frankfurt am Main", "Frankfurt"), ("Hessen", "HE"), "60###", "69"),
            City(("Stuttgart",), ("Baden-Württemberg", "BW", ""), "70###", "711"),
        ),
        streets=(
            "Hauptstraße {n}", "Kurfürstendamm {n}", "Schloßallee {n}", "Friedrichstr. {n}",
            "Königsallee {n}a", "Am Weißen Steg {n}", "Torstraße {n}, Aufgang {s}",
        ),
        phones=(
            "+49 151 ########", "0151 ########", "0160/#######", "+49 (0)170 #######",
            "+49-176-########", "0176 ### #####", "+4915########", "0049 171 #######",
        ),
        locale="de_DE",
        timezone="Europe/Berlin",
        language="de",
    ),
    Country(
        code="GB",
        weight=10,
        first_names=(
            "Oliver", "Amelia", "Siobhán", "Niamh", "Rhys", "Ffion", "Aoife", "Harry", "Isla",
            "Callum", "Priya", "Mohammed", "Eleanor", "Alfie", "Seren", "Bartholomew",
        ),
        last_names=(
            "O'Brien", "Smith", "Jones", "ap Gruffydd", "Taylor", "Davies", "MacLeod",
            "Fforde-Hamilton", "Ó Súilleabháin", "Khan", "Evans", "Wright", "Bowes-Lyon",
            "Featherstonehaugh", "Williams",
        ),
        cities=(
            City(("London",), ("England", "Greater London", ""), "SW1A #@@", "20"),
            City(("London",), ("England", ""), "EC#@ #@@", "20"),
            City(("Manchester",), ("England", "Greater Manchester", ""), "M# #@@", "161"),
            City(("Edinburgh",), ("Scotland", ""), "EH# #@@", "131"),
            City(("Cardiff", "Caerdydd"), ("Wales", ""), "CF10 #@@", "29"),
            City(("Belfast",), ("Northern Ireland", ""), "BT# #@@", "28"),
        ),
        streets=(
            "{n} Baker Street", "Flat {s}, {n} High St", "{n} Abbey Road", "{n} Kings Road",
            "{n} Queen's Drive", "Unit {s}, {n} Canal Street",
        ),
        phones=(
            "07700 900###", "+44 7700 900###", "+44 (0)7700 900###", "07700900###", "+447700900###",
            "07700-900-###",
        ),
        locale="en_GB",
        timezone="Europe/London",
        language="en",
    ),
    Country(
        code="FR",
        weight=7,
        first_names=(
            "Élodie", "Zoé", "Chloé", "François", "Jean-Luc", "Anne-Sophie", "Hélène", "Loïc",
            "Gaëlle", "Jérôme", "Noël", "Théo", "Maëlys", "Ségolène", "Benoît",
        ),
        last_names=(
            "Dupont", "Lefèvre", "Lemaître", "d'Aubigné", "Étienne", "Moreau", "Girard", "Bérenger",
            "Le Goff", "N'Diaye", "de La Fontaine-Chevalier", "Boucher", "Faure",
        ),
        cities=(
            City(("Paris",), ("Île-de-France", "IDF", "Ile-de-France"), "750##", "1"),
            City(("Lyon",), ("Auvergne-Rhône-Alpes", "ARA"), "6900#", "4"),
            City(("Marseille",), ("Provence-Alpes-Côte d'Azur", "PACA"), "130##", "4"),
            City(("Toulouse",), ("Occitanie",), "310##", "5"),
            City(("Lille",), ("Hauts-de-France",), "590##", "3"),
            City(("Nantes",), ("Pays de la Loire", ""), "440##", "2"),
        ),
        streets=(
            "{n} rue de la Paix", "{n} avenue des Champs-Élysées", "{n} boulevard Saint-Germain",
            "{n} bis, rue Lepic", "{n} place de la République", "{n} quai de l'Horloge",
        ),
        phones=(
            "06 ## ## ## ##", "+33 6 ## ## ## ##", "07.##.##.##.##", "+33 (0)6 ########",
            "06########", "0033 7 ## ## ## ##",
        ),
        locale="fr_FR",
        timezone="Europe/Paris",
        language="fr",
    ),
    Country(
        code="IN",
        weight=10,
        first_names=(
            "Aarav", "Priya", "Ananya", "Vivaan", "Diya", "Arjun", "Saanvi", "Rohan", "Lakshmi",
            "Venkatesh", "Siddharth", "Aishwarya", "Harpreet", "Mohammed", "Kavya",
        ),
        last_names=(
            "Sharma", "Patel", "Iyer", "Reddy", "Venkataraghavan", "Subramaniam", "Chatterjee",
            "Nair", "Gupta", "Krishnamurthy-Rao", "Singh", "Banerjee", "Deshpande", "Mukhopadhyay",
            "Venkatasubramanian Ramakrishnan",
        ),
        cities=(
            City(("Bengaluru", "Bangalore"), ("Karnataka", "KA"), "560###", "80"),
            City(("Mumbai", "Bombay"), ("Maharashtra", "MH"), "400###", "22"),
            City(("Hyderabad",), ("Telangana", "TG", "TS"), "500###", "40"),
            City(("Chennai",), ("Tamil Nadu", "TN"), "600###", "44"),
            City(("Pune",), ("Maharashtra", "MH"), "411###", "20"),
            City(("New Delhi", "Delhi"), ("Delhi", "DL", "NCT of Delhi"), "110###", "11"),
        ),
        streets=(
            "No. {n}, 2nd Cross, Indiranagar", "{n}, MG Road", "Flat {s}, Koramangala 5th Block",
            "{n}/{s} Linking Road, Bandra West", "Plot {n}, HITEC City",
        ),
        phones=(
            "+91 98### #####", "098########", "+91-99###-#####", "9#########", "+91 70## ### ###",
            "0091 98########",
        ),
        locale="en_IN",
        timezone="Asia/Kolkata",
        language="en",
    ),
    Country(
        code="JP",
        weight=6,
        first_names=(
            "陽翔|Haruto", "蓮|Ren", "結衣|Yui", "陽葵|Himari", "大翔|Hiroto", "さくら|Sakura", "翔太|Shota",
            "美咲|Misaki", "健太|Kenta", "由美|Yumi", "Shōta", "Yūki", "Haruka",
        ),
        last_names=(
            "佐藤|Sato", "鈴木|Suzuki", "高橋|Takahashi", "田中|Tanaka", "渡辺|Watanabe", "伊藤|Ito",
            "山本|Yamamoto", "中村|Nakamura", "小林|Kobayashi", "加藤|Kato", "Satō", "Itō", "Saitō",
        ),
        cities=(
            City(("Tokyo", "Tōkyō", "東京"), ("Tokyo", "東京都", "Tokyo-to"), "1##-####", "3"),
            City(("Osaka", "Ōsaka", "大阪"), ("Osaka", "大阪府"), "530-####", "6"),
            City(("Kyoto", "京都"), ("Kyoto", "京都府"), "600-####", "75"),
            City(("Fukuoka",), ("Fukuoka", "福岡県"), "810-####", "92"),
            City(("Sapporo", "札幌"), ("Hokkaido", "Hokkaidō", "北海道"), "060-####", "11"),
        ),
        streets=(
            "{n}-{s}-# Marunouchi, Chiyoda-ku", "丸の内{n}-{s}-#", "{n}-# Shibuya, Shibuya-ku",
            "Roppongi Hills Mori Tower {s}F, 6-10-1 Roppongi", "{n}-{s} Umeda, Kita-ku",
        ),
        phones=(
            "090-####-####", "+81 90-####-####", "080 #### ####", "+81-80-####-####", "070########",
            "+81 (0)90 #### ####",
        ),
        locale="ja_JP",
        timezone="Asia/Tokyo",
        language="ja",
    ),
    Country(
        code="BR",
        weight=6,
        first_names=(
            "João", "José", "Ana Júlia", "Luíza", "Thiago", "Letícia", "Caio", "Bárbara", "Vitória",
            "Ícaro", "Maria Eduarda", "Conceição", "Rafael",
        ),
        last_names=(
            "da Silva", "Gonçalves", "Araújo", "Conceição", "dos Santos", "Simões", "Magalhães",
            "Oliveira Neto", "Gonçalves da Silva Pereira", "Brandão", "Assunção", "Sousa",
        ),
        cities=(
            City(("São Paulo", "Sao Paulo", "SP"), ("SP", "São Paulo"), "0####-###", "11"),
            City(("Rio de Janeiro", "Rio"), ("RJ", "Rio de Janeiro"), "2####-###", "21"),
            City(("Belo Horizonte", "BH"), ("MG", "Minas Gerais"), "30###-###", "31"),
            City(("Curitiba",), ("PR", "Paraná"), "80###-###", "41"),
            City(("Porto Alegre",), ("RS", "Rio Grande do Sul"), "90###-###", "51"),
            City(("Florianópolis", "Florianopolis"), ("SC", "Santa Catarina"), "88###-###", "48"),
        ),
        streets=(
            "Rua Augusta, {n}", "Av. Paulista, {n} - Bela Vista", "Rua da Conceição, {n}, apto {s}",
            "Avenida Atlântica, {n}", "Rua XV de Novembro, {n}",
        ),
        phones=(
            "({a}) 9####-####", "+55 {a} 9####-####", "+55 ({a}) 9 ####-####", "{a}9########",
            "0{a} 9####-####",
        ),
        locale="pt_BR",
        timezone="America/Sao_Paulo",
        language="pt",
    ),
    Country(
        code="CA",
        weight=6,
        first_names=(
            "Émilie", "Gabriel", "Olivia", "Liam", "Mathéo", "Noémie", "Xavier", "Chloé", "Ethan",
            "Maëva", "Amélie", "Wei",
        ),
        last_names=(
            "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie",
            "Fortin", "Gagné", "Wong", "Bélanger-Ouellet", "MacDonald",
        ),
        cities=(
            City(("Toronto",), ("ON", "Ontario"), "M#@ #@#", "416"),
            City(("Montréal", "Montreal"), ("QC", "Québec", "Quebec"), "H#@ #@#", "514"),
            City(("Vancouver",), ("BC", "British Columbia"), "V#@ #@#", "604"),
            City(("Calgary",), ("AB", "Alberta"), "T#@ #@#", "403"),
            City(("Ottawa",), ("ON", "Ontario"), "K#@ #@#", "613"),
        ),
        streets=(
            "{n} King St W", "{n} rue Sainte-Catherine O", "{n} Yonge Street, Suite {s}",
            "{s}-{n} Granville St", "{n} Rue Saint-Denis",
        ),
        phones=(
            "+1 ({a}) 555-01##", "({a}) 555-01##", "{a}.555.01##", "{a}-555-01##",
        ),
        locale="en_CA",
        timezone="America/Toronto",
        language="en",
    ),
    Country(
        code="ES",
        weight=5,
        first_names=(
            "José", "María", "Lucía", "Álvaro", "Sofía", "Martín", "Iñaki", "Núria", "Begoña",
            "Jesús", "Ramón", "Aitana", "María José",
        ),
        last_names=(
            "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
            "Núñez", "García-Márquez", "de la Fuente", "Ruiz de Alarcón y Mendoza", "Ibáñez",
            "Muñoz",
        ),
        cities=(
            City(("Madrid",), ("Comunidad de Madrid", "Madrid", "M"), "280##", "91"),
            City(("Barcelona",), ("Cataluña", "Catalunya", "Barcelona"), "080##", "93"),
            City(("Valencia", "València"), ("Comunitat Valenciana", "Valencia"), "460##", "96"),
            City(("Sevilla", "Seville"), ("Andalucía", "Andalucia"), "410##", "95"),
            City(("Bilbao",), ("País Vasco", "Euskadi"), "480##", "94"),
            City(("Málaga", "Malaga"), ("Andalucía",), "290##", "952"),
        ),
        streets=(
            "Calle de Alcalá, {n}", "Carrer de Mallorca, {n}, 3º 2ª", "Gran Vía, {n}",
            "Paseo de la Castellana, {n}, planta {s}", "Avenida Diagonal {n}",
        ),
        phones=(
            "6## ### ###", "+34 6## ## ## ##", "+34 6########", "7## ### ###", "0034 6########",
        ),
        locale="es_ES",
        timezone="Europe/Madrid",
        language="es",
    ),
    Country(
        code="NL",
        weight=5,
        first_names=(
            "Daan", "Sem", "Lotte", "Sanne", "Bram", "Fleur", "Thijs", "Eline", "Joëlle", "Sven",
            "Maaike", "Ruud", "IJsbrand",
        ),
        last_names=(
            "de Vries", "van den Berg", "Jansen", "Bakker", "van der Meer", "Visser", "Smit",
            "de Jong", "Meijer", "van 't Hek", "Mulder", "van Dijk-Hoogendoorn", "Dekker",
        ),
        cities=(
            City(("Amsterdam",), ("Noord-Holland", "NH"), "10## @@", "20"),
            City(("Rotterdam",), ("Zuid-Holland", "ZH"), "30## @@", "10"),
            City(("Utrecht",), ("Utrecht", "UT"), "35## @@", "30"),
            City(("Eindhoven",), ("Noord-Brabant", "NB"), "56## @@", "40"),
            City(("Den Haag", "'s-Gravenhage", "The Hague"), ("Zuid-Holland",), "25## @@", "70"),
        ),
        streets=(
            "Keizersgracht {n}", "Prinsengracht {n}-III", "Coolsingel {n}", "Damrak {n}hs",
            "Oudegracht {n} bis",
        ),
        phones=(
            "06-########", "+31 6 ########", "06 ## ## ## ##", "+31 (0)6 ########",
            "0031 6 ########", "+316########",
        ),
        locale="nl_NL",
        timezone="Europe/Amsterdam",
        language="nl",
    ),
    Country(
        code="SE",
        weight=3,
        first_names=(
            "Åsa", "Björn", "Märta", "Örjan", "Linnéa", "Oskar", "Elsa", "Håkan",
        ),
        last_names=(
            "Andersson", "Johansson", "Åkesson", "Öberg", "Lindqvist", "Ekström",
        ),
        cities=(
            City(("Stockholm",), ("Stockholms län", "Stockholm", ""), "1## ##", "8"),
            City(("Göteborg", "Gothenburg"), ("Västra Götalands län", ""), "4## ##", "31"),
            City(("Malmö", "Malmo"), ("Skåne län", "Skåne"), "2## ##", "40"),
        ),
        streets=(
            "Drottninggatan {n}", "Götgatan {n}, lgh {s}", "Kungsgatan {n}",
        ),
        phones=(
            "07#-### ## ##", "+46 7# ### ## ##", "+46 (0)7#-### ## ##", "07########",
        ),
        locale="sv_SE",
        timezone="Europe/Stockholm",
        language="sv",
    ),
    Country(
        code="PL",
        weight=3,
        first_names=(
            "Łukasz", "Małgorzata", "Paweł", "Agnieszka", "Grzegorz", "Żaneta", "Wojciech",
        ),
        last_names=(
            "Kowalski", "Wiśniewska", "Wójcik", "Kamiński", "Lewandowska", "Szczęsny",
        ),
        cities=(
            City(("Warszawa", "Warsaw"), ("mazowieckie", "Mazowieckie", "Masovia"), "00-###", "22"),
            City(("Kraków", "Krakow", "Cracow"), ("małopolskie", "Małopolskie"), "30-###", "12"),
            City(("Wrocław", "Wroclaw"), ("dolnośląskie",), "50-###", "71"),
            City(("Gdańsk", "Gdansk"), ("pomorskie",), "80-###", "58"),
        ),
        streets=(
            "ul. Marszałkowska {n}", "ul. Floriańska {n}/{s}", "al. Jerozolimskie {n}",
        ),
        phones=(
            "+48 5## ### ###", "6## ### ###", "+48 6########", "(+48) 5## ### ###",
        ),
        locale="pl_PL",
        timezone="Europe/Warsaw",
        language="pl",
    ),
    Country(
        code="AU",
        weight=3,
        first_names=(
            "Jack", "Charlotte", "Lachlan", "Matilda", "Cooper", "Isla", "Mia", "Jarrah",
        ),
        last_names=(
            "Smith", "Nguyen", "Wilson", "O'Sullivan", "Papadopoulos", "Taylor",
        ),
        cities=(
            City(("Sydney",), ("NSW", "New South Wales"), "20##", "2"),
            City(("Melbourne",), ("VIC", "Victoria", "Vic."), "30##", "3"),
            City(("Brisbane",), ("QLD", "Queensland"), "40##", "7"),
            City(("Perth",), ("WA", "Western Australia"), "60##", "8"),
        ),
        streets=(
            "{n} George Street", "Level {s}, {n} Collins St", "{s}/{n} Queen St",
        ),
        phones=(
            "04## ### ###", "+61 4## ### ###", "+61 (0)4## ### ###", "04########",
        ),
        locale="en_AU",
        timezone="Australia/Sydney",
        language="en",
    ),
)

# Values people put in a phone field that no parser will make sense of.
UNPARSEABLE_PHONES = (
    "n/a", "N/A", "TBD", "-", "ask reception", "12345", "call me on Teams", "0", "+", "x1234",
)
# fmt: on

# Team name, description, kind. The first eight come first in every generated org, in this
# order; ``department`` groups split the workforce (each grouped user is in exactly one),
# ``region`` groups hold the users of the listed countries, the rest take power-law samples.
CORE_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("Engineering", "Builds and runs the product", "department"),
    ("Sales", "New business and account management", "department"),
    ("Marketing", "Demand generation, brand and communications", "department"),
    ("Finance", "Accounting, FP&A and treasury", "department"),
    ("People Ops", "HR, recruiting and people programs", "department"),
    ("Support", "Customer support, all tiers", "department"),
    ("Interns", "Current interns and working students", "interns"),
    ("Design", "Product and brand design", "department"),
)
MORE_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("Platform", "Infrastructure and developer platform", "department"),
    ("Data", "Data engineering and analytics", "department"),
    ("Security", "Security engineering and GRC", "department"),
    ("Legal", "Legal and compliance", "department"),
    ("EMEA", "Everyone based in Europe, the Middle East and Africa", "region:DE,GB,FR,ES,NL,SE,PL"),
    ("Product", "Product management", "department"),
    ("Americas", "Everyone based in North and South America", "region:US,CA,BR"),
    ("APAC", "Everyone based in Asia-Pacific", "region:IN,JP,AU"),
    ("Customer Success", "Onboarding and renewals", "department"),
    ("IT", "Internal IT and help desk", "department"),
    ("Managers", "People managers", "team"),
    ("Berlin Office", "", "region:DE"),
    ("London Office", "Everyone at the London office", "region:GB"),
    ("On-call", "Production on-call rotation", "team"),
    ("Operations", "Business operations", "department"),
    ("Tokyo Office", "東京オフィスのメンバー", "region:JP"),
    ("São Paulo Office", "Escritório de São Paulo", "region:BR"),
    ("Frontend Guild", "", "team"),
    ("Backend Guild", "", "team"),
    ("Équipe Paris", "Bureau de Paris", "region:FR"),
    ("Recruiting", "Talent acquisition", "team"),
    ("SRE", "Site reliability engineering", "team"),
    ("Bengaluru Office", "", "region:IN"),
    ("Mobile", "iOS and Android", "team"),
    ("Vertrieb DACH", "Vertrieb Deutschland, Österreich, Schweiz", "region:DE"),
    ("Developer Relations", "", "team"),
    ("Toronto Office", "", "region:CA"),
    ("QA & Testing", "Quality assurance", "team"),
    ("Growth", "", "team"),
    ("Müller's Task Force", "Ad-hoc task force (do not delete)", "team"),
    ("Partnerships", "", "team"),
    ("R&D", "Research & development", "team"),
    ("Amsterdam Office", "", "region:NL"),
    ("Procurement", "", "team"),
    ("Women in Tech", "Employee resource group", "team"),
    ("Compliance", "SOX, SOC 2 and ISO 27001", "team"),
    ("Madrid Office", "Oficina de Madrid", "region:ES"),
    ("Analytics", "", "team"),
    ("Payroll", "", "team"),
    ("Incident Response", "", "team"),
    ("Field Marketing", "", "team"),
    ("Internal Tools", "", "team"),
    ("Security Champions", "", "team"),
    ("Social Club", "Board games, climbing and the summer party", "team"),
    ("Executive Team", "", "team"),
)
# Groups imported from Active Directory (type APP_GROUP).
APP_GROUPS: tuple[tuple[str, str], ...] = (
    ("AD: All Staff", "All domain users"),
    ("AD: VPN Users", "Allowed to connect to the corporate VPN"),
    ("AD: Developers", "Developer workstations"),
    ("AD: Finance Share", "Access to \\\\fs01\\finance"),
    ("AD: Remote Desktop Users", ""),
    ("AD: Printers - Berlin", ""),
    ("AD: Sales - EMEA", ""),
    ("AD: Domain Admins", "Domain administrators"),
)
CODENAMES = (
    "Phoenix",
    "Atlas",
    "Nebula",
    "Orion",
    "Borealis",
    "Kestrel",
    "Quasar",
    "Tundra",
    "Zephyr",
    "Monsoon",
    "Sequoia",
    "Fjord",
)

TITLES: dict[str, tuple[str, ...]] = {
    "Engineering": (
        "Software Engineer",
        "Senior Software Engineer",
        "Staff Engineer",
        "Engineering Manager",
        "Principal Engineer",
    ),
    "Sales": ("Account Executive", "Sales Development Rep", "Regional Sales Director"),
    "Marketing": ("Product Marketing Manager", "Content Strategist", "Marketing Ops"),
    "Finance": ("Financial Analyst", "Controller", "Accountant"),
    "People Ops": ("HR Business Partner", "Recruiter", "People Ops Generalist"),
    "Support": ("Support Engineer", "Customer Support Specialist", "Support Lead"),
    "Design": ("Product Designer", "UX Researcher", "Design Lead"),
}
GENERIC_TITLES = ("Manager", "Specialist", "Analyst", "Lead", "Associate", "Director")

# Employment categories: weight, userType spellings (the mess of mixed case), employeeType
# spellings (a custom attribute some orgs use instead).
EMPLOYMENT: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "full-time",
        70,
        ("Full-time",) * 6 + ("full-time",) * 2 + ("FULL-TIME", "Full-Time"),
        ("Full-time", "Full-time", "Employee", "Full-Time"),
    ),
    (
        "contractor",
        12,
        ("Contractor",) * 4 + ("contractor", "CONTRACTOR"),
        ("Contractor", "Contingent Worker"),
    ),
    ("part-time", 7, ("Part-time",) * 3 + ("part-time", "PART-TIME"), ("Part-time",)),
    ("intern", 5, ("Intern",) * 3 + ("intern", "INTERN"), ("Intern", "Working Student")),
    ("unknown", 6, (), ()),
)

# -- the extra mess (drawn from the generator's own stream, see generator.OrgGenerator._mess) --

# The spellings one region goes by, in the languages of the people who type it in: a user's
# state in one of these groups is sometimes replaced by another spelling of the same group.
# (The US has none here: its states are the codes and English names of COUNTRIES already.)
# fmt: off
STATE_SPELLINGS: dict[str, tuple[tuple[str, ...], ...]] = {
    "DE": (
        ("Bayern", "BY", "Bavaria", "Bavière", "Baviera", "Beieren", "bayern", "BAYERN"),
        ("Berlin", "BE", "Berlín", "Berlino", "BERLIN"),
        ("Hamburg", "HH", "Hambourg", "Amburgo"),
        ("Nordrhein-Westfalen", "NRW", "NW", "North Rhine-Westphalia", "Nordrhein Westfalen"),
        ("Hessen", "HE", "Hesse", "Assia"),
        ("Baden-Württemberg", "BW", "Baden-Wurttemberg", "Bade-Wurtemberg"),
    ),
    "FR": (
        ("Île-de-France", "IDF", "Ile-de-France", "ile de france", "ÎLE-DE-FRANCE"),
        ("Auvergne-Rhône-Alpes", "ARA", "Auvergne-Rhone-Alpes"),
        ("Occitanie", "Occitania", "Okzitanien"),
        ("Hauts-de-France", "Hauts de France"),
        ("Pays de la Loire", "Pays-de-la-Loire"),
    ),
    "ES": (
        ("Cataluña", "Catalunya", "Catalonia", "Catalogne"),
        ("Comunidad de Madrid", "Madrid", "M"),
        ("Andalucía", "Andalucia", "Andalusia", "Andalousie", "Andalusien"),
        ("País Vasco", "Euskadi", "Pais Vasco"),
    ),
    "NL": (
        ("Noord-Holland", "NH", "Nordholland", "Hollande-Septentrionale", "noord holland"),
        ("Zuid-Holland", "ZH", "Südholland", "Hollande-Méridionale"),
        ("Noord-Brabant", "NB", "Nordbrabant", "Brabant-Septentrional"),
    ),
    "GB": (
        ("Scotland", "Schottland"),
        ("Wales", "Cymru"),
        ("Northern Ireland", "Nordirland"),
    ),
    "CA": (
        ("QC", "Québec", "Quebec", "QUÉBEC"),
        ("BC", "British Columbia", "Colombie-Britannique"),
    ),
    "BR": (
        ("SP", "São Paulo", "Sao Paulo", "sp"),
        ("PR", "Paraná", "Parana"),
    ),
}

# Employment values added to a user's own to make a list-valued employeeType (an array
# attribute in orgs that allow several contracts at once), in the spellings people use.
EMPLOYMENT_EXTRAS = (
    "Part-time", "Contractor", "part time", "FULL_TIME", "Intern", "Temporary", "Working Student",
)

# countryCode values that are no country (Okta takes any two characters): unassigned and
# user-assigned codes, and aliases that only people know.
INVALID_COUNTRY_CODES = ("XX", "ZZ", "XK", "QQ", "AA")
COUNTRY_CODE_ALIASES = {"GB": ("UK", "uk"), "GR": ("EL",)}

# Second lines that HR systems append to a street address.
ADDRESS_LINES = ("c/o Reception", "Building B", "3rd floor", "Attn: Mailroom", "Apt. 4")

# Phones that parse as nothing or as no valid number.
MESSY_PHONES = ("12", "n/a", "+49", "0000", "555-CALL-NOW", "+1 (415) 555-01", "none", "?")
# fmt: on
