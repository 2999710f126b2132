"""Write the importance-classifier dataset: train.jsonl, valid.jsonl and test.jsonl.

    .venv/bin/python memory/data/importance/generate.py

Deterministic (fixed seed) and stdlib only. Every line comes from this file: many
independent template families filled from large slot pools, plus hand-written lines.
No external data is read. Each JSON line is
{"text": str, "importance": float in [0, 1], "keep": 0 | 1, "kind": str},
with keep == 1 iff importance >= 0.5. See docs/importance-data.md for the datasheet.

Generalisation: valid and test draw partly from template families that train never
sees (HELD_OUT families), from held-out templates inside every family (every fourth
paraphrase) and from held-out slot values (every fourth name, city, job, food...);
texts are deduplicated across all three splits on a normalised key.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = 20261201
OUT_DIR = Path(__file__).resolve().parent
SIZES = {"train": 2400, "valid": 300, "test": 300}
# Extra train-only rows from EXTRA_FAMILIES (written after the first classifier's errors).
TRAIN_EXTRA = 1300
KEEP_FRACTION = 0.5
# In valid/test, the share of generated items drawn only from held-out families.
HELD_OUT_FAMILY_SHARE = 0.4
KINDS = ("fact", "preference", "event", "plan", "relationship", "summary", "other")

# ---------------------------------------------------------------------------------------
# Slot pools. In every pool of four or more values, each fourth value (index % 4 == 3)
# is held out: train never uses it; valid/test prefer it.
# ---------------------------------------------------------------------------------------

FEMALE = [
    "Maria", "Aisha", "Mei", "Priya", "Sofia", "Olga", "Fatima", "Yuki", "Chloé", "Amara", "Ingrid",
    "Lucía", "Hana", "Zanele", "Leila", "Emma", "Ngozi", "Anya", "Camila", "Sakura", "Noor",
    "Elena", "Siobhan", "Thandiwe", "Mariam", "Ji-woo", "Isabela", "Freya", "Rania", "Kavya",
    "Beatriz", "Nadia", "Grace", "Ewa", "Ayşe", "Linh", "Valentina", "Keiko", "Esther", "Margot",
    "Imani", "Tamar", "Ruth", "Saoirse", "Dilnoza", "Paula", "Giulia", "Lena", "Rosa", "Adaeze",
    "Astrid", "Marisol", "Zoe", "Parisa", "Kiri", "Anneke", "Lakshmi", "Yasmin", "Olivia", "Mia",
]  # fmt: skip
MALE = [
    "Leo", "Omar", "Hiroshi", "Ravi", "Lukas", "Mateo", "Kwame", "Dmitri", "Chen", "Jamal", "Tom",
    "Pierre", "Santiago", "Arjun", "Erik", "Kofi", "Mehmet", "Tariq", "Diego", "Jonas", "Wei",
    "Samuel", "Ibrahim", "Finn", "Rafael", "Tomasz", "Andile", "Kenji", "Luca", "Ahmed", "Oscar",
    "Nikolai", "Juan", "Ethan", "Yusuf", "Pablo", "Minh", "Emeka", "Sven", "Daniel", "Hamza",
    "Matteo", "Bongani", "Felipe", "Jakub", "Noah", "Amir", "Thiago", "Sebastián", "Ali", "Rohan",
    "Malik", "Henrik", "Tane", "Javier", "Olu", "Marcus", "Björn", "Kai", "Ben",
]  # fmt: skip
PET_NAMES = [
    "Biscuit", "Luna", "Max", "Pepper", "Mochi", "Simba", "Nala", "Oreo", "Coco", "Bruno", "Ziggy",
    "Pickles", "Loki", "Bella", "Toby", "Kiwi", "Milo", "Shadow", "Pumpkin", "Rocky", "Maple",
    "Gizmo", "Tofu", "Bean", "Churro", "Frida", "Nugget", "Olive", "Waffles", "Sushi", "Pixel",
    "Dobby",
]  # fmt: skip
CITIES = [
    "Berlin", "Munich", "Lisbon", "Nairobi", "Toronto", "Osaka", "Lyon", "Melbourne", "Bogotá",
    "Manchester", "Seoul", "Cape Town", "Dublin", "Hanoi", "Istanbul", "Austin", "Porto", "Lagos",
    "Warsaw", "Edinburgh", "Mumbai", "Vancouver", "Madrid", "Accra", "Kraków", "Denver",
    "Marseille", "Auckland", "Buenos Aires", "Leeds", "Singapore", "Montreal", "Rotterdam",
    "Chicago", "Bangalore", "Valencia", "Glasgow", "Tel Aviv", "Copenhagen", "São Paulo", "Hamburg",
    "Brisbane", "Mexico City", "Cairo", "Helsinki", "Seattle", "Naples", "Kyoto", "Bristol",
    "Santiago", "Zurich", "Atlanta", "Manila", "Vienna", "Oslo", "Casablanca", "Portland",
    "Tallinn", "Cork", "Ottawa", "Bologna", "Leipzig", "Kigali", "Perth",
]  # fmt: skip
COUNTRIES = [
    "Brazil", "Nigeria", "India", "Japan", "Poland", "Mexico", "Ireland", "Vietnam", "Turkey",
    "Kenya", "Canada", "Egypt", "Portugal", "South Korea", "Argentina", "Ghana", "Iran",
    "the Philippines", "Germany", "Morocco", "Chile", "Ukraine", "Sweden", "Pakistan", "Scotland",
    "Peru", "Ethiopia", "New Zealand",
]  # fmt: skip
JOBS = [
    "nurse", "software engineer", "primary school teacher", "electrician", "accountant", "chef",
    "graphic designer", "paramedic", "lawyer", "data analyst", "pharmacist", "carpenter",
    "architect", "bus driver", "social worker", "dentist", "marketing manager",
    "PhD student in chemistry", "physiotherapist", "barista", "UX researcher", "civil engineer",
    "vet", "firefighter", "journalist", "translator", "product manager", "midwife", "plumber",
    "librarian", "police officer", "maths teacher", "sales rep", "radiologist", "pilot", "farmer",
    "hairdresser", "session musician", "security guard", "HR manager", "dental hygienist",
    "game developer", "estate agent", "logistics coordinator", "truck driver", "speech therapist",
    "research scientist", "web developer", "receptionist", "mechanic", "postdoc in neuroscience",
    "baker", "flight attendant", "occupational therapist", "tattoo artist", "GP",
]  # fmt: skip
WORKPLACES = [
    "a hospital", "a small startup", "the city council", "a bakery", "a law firm",
    "a logistics company", "a bank", "the university", "a secondary school", "an NGO", "a hotel",
    "a car factory", "a consulting firm", "a supermarket chain", "a museum", "a call centre",
    "a game studio", "a pharmacy", "a recycling plant", "an airline", "a care home",
    "a fintech company", "the local library", "a vineyard",
]  # fmt: skip
FOODS = [
    "sushi", "spicy ramen", "dark chocolate", "pho", "tacos al pastor", "lasagna", "jollof rice",
    "dim sum", "falafel", "pad thai", "croissants", "mango sticky rice", "biryani", "pierogi",
    "paella", "cheesecake", "kimchi stew", "fish and chips", "shakshuka", "pastel de nata",
    "butter chicken", "ceviche", "bibimbap", "banana bread", "Neapolitan pizza",
    "injera with lentils", "gyoza", "khachapuri", "tiramisu", "green curry", "empanadas",
    "oatmeal with berries", "Greek salad", "hummus", "bánh mì", "katsu curry",
]  # fmt: skip
DISLIKES = [
    "cilantro", "olives", "mushrooms", "blue cheese", "liver", "anchovies", "raw onions",
    "licorice", "pickles", "coconut", "tofu", "beetroot", "oysters", "eggplant", "mayo",
    "brussels sprouts", "durian", "celery", "spicy food", "fennel", "tripe", "raisins", "marzipan",
    "okra",
]  # fmt: skip
MUSIC = [
    "jazz", "k-pop", "Radiohead", "Taylor Swift", "techno", "bossa nova", "classical piano",
    "heavy metal", "Bad Bunny", "90s hip hop", "Fleetwood Mac", "lo-fi beats", "Beyoncé",
    "country music", "Arctic Monkeys", "opera", "Afrobeats", "Billie Eilish", "punk rock",
    "Ludovico Einaudi", "Fela Kuti", "Stromae", "salsa", "BTS", "Nina Simone", "drum and bass",
    "Coldplay", "flamenco", "ABBA", "Kendrick Lamar",
]  # fmt: skip
MEDIA = [
    "The Office", "Studio Ghibli films", "true crime podcasts", "Brandon Sanderson novels",
    "horror movies", "Formula 1", "Premier League football", "The Great British Bake Off", "anime",
    "Agatha Christie", "nature documentaries", "the NBA", "Star Trek", "Korean dramas",
    "hard sci-fi", "test cricket", "chess streams", "romcoms", "Terry Pratchett", "Grey's Anatomy",
    "Tour de France", "historical fiction", "Marvel movies", "poetry by Mary Oliver",
]  # fmt: skip
HOBBIES = [
    "rock climbing", "knitting", "running", "birdwatching", "pottery", "chess", "gardening",
    "salsa dancing", "film photography", "woodworking", "playing the cello", "surfing",
    "baking sourdough", "yoga", "video games", "fly fishing", "watercolour painting", "hiking",
    "road cycling", "board games", "learning Japanese", "open water swimming", "calligraphy",
    "skateboarding", "volunteering at a food bank", "playing guitar", "sewing", "kayaking",
    "bouldering", "cryptic crosswords", "beekeeping", "Brazilian jiu-jitsu", "restoring old bikes",
    "astronomy", "crochet", "trail running",
]  # fmt: skip
ALLERGENS = [
    "peanuts", "tree nuts", "shellfish", "penicillin", "latex", "bee stings", "sesame", "eggs",
    "amoxicillin", "sulfa drugs", "ibuprofen", "aspirin", "cats", "dust mites", "kiwi", "soy",
    "fish", "codeine", "mustard", "wheat", "cashews", "wasp stings", "strawberries",
    "iodine contrast",
]  # fmt: skip
CONDITIONS = [
    "type 1 diabetes", "type 2 diabetes", "asthma", "epilepsy", "chronic migraines", "ADHD",
    "coeliac disease", "high blood pressure", "Crohn's disease", "generalised anxiety",
    "depression", "IBS", "a heart arrhythmia", "sleep apnea", "hypothyroidism", "endometriosis",
    "PCOS", "rheumatoid arthritis", "long covid", "tinnitus", "multiple sclerosis",
    "bipolar disorder", "psoriasis", "a pacemaker", "lupus", "glaucoma", "fibromyalgia",
    "sickle cell disease",
]  # fmt: skip
MEDS = [
    "metformin", "insulin", "levothyroxine", "sertraline", "a steroid inhaler", "warfarin",
    "lisinopril", "methylphenidate", "lamotrigine", "iron tablets", "propranolol",
    "birth control pills", "fluoxetine", "omeprazole", "vitamin D", "blood thinners",
]  # fmt: skip
PET_TYPES = [
    "dog", "cat", "golden retriever", "tabby cat", "rabbit", "border collie", "parrot", "hamster",
    "tortoise", "labrador", "corgi", "bearded dragon", "husky", "guinea pig", "dachshund",
    "Maine Coon", "beagle", "cockatiel", "greyhound", "black cat",
]  # fmt: skip
DESTINATIONS = [
    "Iceland", "Bali", "the Alps", "Patagonia", "Kyoto", "Sicily", "the Scottish Highlands",
    "Morocco", "Peru", "Vietnam", "Norway", "Crete", "Cape Town", "Yosemite", "Lisbon", "New York",
    "Zanzibar", "Tokyo", "Mexico City", "the Dolomites", "Sri Lanka", "Istanbul", "Croatia",
    "Costa Rica", "Jordan", "Montreal", "Tasmania", "Lapland",
]  # fmt: skip
APPOINTMENTS = [
    "dentist appointment", "GP appointment", "dermatologist appointment", "physio session",
    "eye test", "therapy session", "cardiologist appointment", "vet appointment for the dog",
    "MRI scan", "blood test", "driving test", "job interview", "parent-teacher meeting",
    "visa interview", "oncology follow-up", "allergist appointment", "mortgage meeting",
    "ultrasound", "court date", "flu jab", "orthodontist appointment", "colonoscopy",
]  # fmt: skip
DEADLINES = [
    "thesis", "tax return", "grant proposal", "quarterly report", "portfolio review",
    "visa renewal", "final project", "conference paper", "passport renewal", "manuscript",
    "dissertation chapter", "self-assessment", "bar exam application", "rent", "research poster",
    "client pitch deck", "uni application", "insurance claim",
]  # fmt: skip
LANGUAGES = [
    "Spanish", "Mandarin", "Arabic", "French", "Portuguese", "Hindi", "Swahili", "German",
    "Japanese", "Polish", "Tagalog", "Korean", "Turkish", "Dutch", "Greek", "Italian", "Yoruba",
    "Russian", "Vietnamese", "Hebrew", "Urdu", "Catalan", "Zulu", "Bengali",
]  # fmt: skip
SUBJECTS = [
    "medicine", "computer science", "law", "architecture", "nursing", "economics",
    "mechanical engineering", "psychology", "art history", "marine biology", "philosophy",
    "accounting", "physics", "social work", "music production", "veterinary science", "journalism",
    "data science", "education", "chemistry",
]  # fmt: skip
UNIS = [
    "UCL", "the University of Toronto", "TU Munich", "Sciences Po", "the local community college",
    "the Open University", "Universidad de Chile", "Monash", "Trinity College Dublin",
    "Seoul National University", "the University of Lagos", "KTH", "a night school", "the Sorbonne",
    "UBC", "the University of Cape Town",
]  # fmt: skip
COLOURS = ["green", "navy blue", "yellow", "purple", "burnt orange", "teal", "red", "black"]
CARS = ["an old Corolla", "a Tesla", "a VW Golf", "a Fiat Panda", "a pickup", "a Prius"]
SHOPS = ["Aldi", "Lidl", "the farmers market", "Trader Joe's", "Tesco", "the corner shop"]
PROJECTS = [
    "billing migration", "new mobile app", "warehouse automation", "rebranding", "data platform",
    "ward rota overhaul", "school trip", "website relaunch", "ERP rollout", "customer portal",
    "grant-funded study", "kitchen refit",
]  # fmt: skip
TOOLS = ["Jira", "Notion", "Excel", "Figma", "SAP", "Slack", "Salesforce", "Trello"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SEASONS = ["spring", "summer", "autumn", "winter"]
TIMES = ["9am", "10:30", "2pm", "3:15pm", "8 in the morning", "noon", "4:45", "11am", "6pm"]

REL_F = [
    "wife", "girlfriend", "sister", "mom", "mum", "daughter", "grandma", "aunt", "niece",
    "mother-in-law", "stepmum", "mother", "little sister", "older sister",
]  # fmt: skip
REL_M = [
    "husband", "boyfriend", "brother", "dad", "son", "grandpa", "uncle", "nephew", "father-in-law",
    "stepdad", "father", "little brother", "older brother",
]  # fmt: skip
REL_N = [
    "partner", "best friend", "roommate", "boss", "coworker", "neighbour", "cousin", "flatmate",
    "manager", "therapist", "colleague", "godchild", "fiancé(e)", "childhood friend",
]  # fmt: skip

# General-knowledge / request material for negatives.
TOPICS = [
    "photosynthesis", "black holes", "inflation", "the French Revolution", "blockchain", "vaccines",
    "the Roman Empire", "quantum computing", "plate tectonics", "compound interest",
    "the water cycle", "machine learning", "the Cold War", "the legislative process", "CRISPR",
    "the stock market", "jet lag", "the Big Bang", "supply and demand", "lithium batteries",
    "the Renaissance", "nuclear fusion", "the immune system", "recursion", "dark matter",
    "the Silk Road", "tides",
]  # fmt: skip
THINGS = [
    "the ocean", "autumn", "a lonely robot", "coffee", "the moon", "a lost sock", "Mondays",
    "a lighthouse", "friendship", "a cat who wants to be a pirate", "rain on a tin roof",
    "time travel", "a haunted toaster", "the first day of spring", "a dragon who bakes",
]  # fmt: skip
PEOPLE_FAMOUS = [
    "Marie Curie", "Napoleon", "Frida Kahlo", "Nelson Mandela", "Ada Lovelace", "Shakespeare",
    "Genghis Khan", "Cleopatra", "Einstein", "Simón Bolívar", "Wangari Maathai", "Tesla",
]  # fmt: skip
BOOKS = [
    "Moby Dick", "One Hundred Years of Solitude", "1984", "Pride and Prejudice", "Dune",
    "Things Fall Apart", "The Little Prince", "Crime and Punishment", "Beloved", "Don Quixote",
]  # fmt: skip

EMOJI = [
    "🙂",
    "😂",
    "😅",
    "🙏",
    "❤️",
    "👍",
    "🎉",
    "😭",
    "🤔",
    "✨",
    "😬",
    "🥲",
    "😊",
    "🔥",
    ":)",
    ":D",
    ";)",
]
POS_PREFIX = [
    "btw ", "oh and ", "fyi ", "just so you know, ", "also, ", "for the record, ", "quick thing: ",
    "so ", "hey, ", "ok so ", "by the way, ", "random but ", "note: ", "remember this: ",
    "worth knowing: ", "heads up, ",
]  # fmt: skip
NEG_PREFIX = ["hey ", "um ", "ok ", "so ", "quick question: ", "hmm ", "random q: ", "yo "]
OPENERS = [
    "hi! ", "thanks! ", "haha ok. ", "good morning. ", "hey there. ", "ok cool. ", "lol. ",
    "sorry for the late reply. ", "ugh, long day. ", "hello again! ",
]  # fmt: skip
CLOSERS = [
    " anyway, how are you?", " what do you think?", " just wanted to mention it.",
    " no need to reply.", " anyway.", " thoughts?", " 🙂", " keep that in mind pls",
]  # fmt: skip


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---------------------------------------------------------------------------------------
# Context: seeded picks that respect the held-out values/templates
# ---------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, rng: random.Random, split: str) -> None:
        self.rng = rng
        self.split = split
        self.heldout = split != "train"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, pool: list[str]) -> str:
        if len(pool) < 4:
            return self.rng.choice(pool)
        seen = [v for i, v in enumerate(pool) if i % 4 != 3]
        held = [v for i, v in enumerate(pool) if i % 4 == 3]
        if not self.heldout:
            return self.rng.choice(seen)
        return self.rng.choice(held if self.chance(0.7) else pool)

    def pick2(self, pool: list[str]) -> tuple[str, str]:
        a = self.pick(pool)
        b = self.pick(pool)
        while b == a:
            b = self.rng.choice(pool)
        return a, b

    tpl = pick  # templates are held out exactly like slot values

    def num(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def date(self) -> str:
        month = self.pick(MONTHS)
        day = self.num(1, 28)
        return self.rng.choice(
            [
                f"{month} {day}",
                f"{day} {month}",
                f"the {ordinal(day)} of {month}",
                f"{month} {ordinal(day)}",
                f"{month[:3]} {day}",
            ]
        )

    def soon(self) -> str:
        return self.rng.choice(
            [
                f"next {self.pick(WEEKDAYS)}",
                f"on {self.pick(WEEKDAYS)}",
                "tomorrow",
                f"on {self.date()}",
                "next week",
                f"this {self.pick(WEEKDAYS)}",
                f"in {self.num(2, 5)} weeks",
            ]
        )

    def person(self) -> tuple[str, str]:
        """(relation, name) with a name that fits the relation."""
        r = self.rng.random()
        if r < 0.4:
            return self.pick(REL_F), self.pick(FEMALE)
        if r < 0.8:
            return self.pick(REL_M), self.pick(MALE)
        return self.pick(REL_N), self.pick(FEMALE + MALE)

    def name(self) -> str:
        return self.pick(FEMALE) if self.chance(0.5) else self.pick(MALE)

    def slots(self) -> dict[str, object]:
        rel, n = self.person()
        c1, c2 = self.pick2(CITIES)
        return {
            "n": n,
            "rel": rel,
            "n2": self.name(),
            "f": self.pick(FEMALE),
            "m": self.pick(MALE),
            "city": c1,
            "city2": c2,
            "country": self.pick(COUNTRIES),
            "job": self.pick(JOBS),
            "wp": self.pick(WORKPLACES),
            "food": self.pick(FOODS),
            "bad": self.pick(DISLIKES),
            "music": self.pick(MUSIC),
            "media": self.pick(MEDIA),
            "hobby": self.pick(HOBBIES),
            "a": self.pick(ALLERGENS),
            "cond": self.pick(CONDITIONS),
            "med": self.pick(MEDS),
            "pet": self.pick(PET_TYPES),
            "pn": self.pick(PET_NAMES),
            "dest": self.pick(DESTINATIONS),
            "appt": self.pick(APPOINTMENTS),
            "dl": self.pick(DEADLINES),
            "lang": self.pick(LANGUAGES),
            "subject": self.pick(SUBJECTS),
            "uni": self.pick(UNIS),
            "month": self.pick(MONTHS),
            "wd": self.pick(WEEKDAYS),
            "season": self.pick(SEASONS),
            "time": self.pick(TIMES),
            "date": self.date(),
            "date2": self.date(),
            "soon": self.soon(),
            "k": self.num(2, 12),
            "age": self.num(19, 78),
            "kid_age": self.num(1, 16),
            "year": self.num(1998, 2025),
            "fyear": self.num(2026, 2029),
            "colour": self.pick(COLOURS),
            "car": self.pick(CARS),
            "shop": self.pick(SHOPS),
            "project": self.pick(PROJECTS),
            "tool": self.pick(TOOLS),
            "topic": self.pick(TOPICS),
            "thing": self.pick(THINGS),
            "famous": self.pick(PEOPLE_FAMOUS),
            "book": self.pick(BOOKS),
        }

    def fill(self, templates: list[str]) -> str:
        return self.tpl(templates).format(**self.slots())


# ---------------------------------------------------------------------------------------
# Template families. Each returns (text, lo, hi, kind[, lang]); importance ~ U(lo, hi).
# ---------------------------------------------------------------------------------------

Result = tuple


@dataclass(frozen=True)
class Family:
    name: str
    keep: bool
    weight: float
    held_out: bool
    fn: Callable[[Ctx], Result]


FAMILIES: list[Family] = []


def family(name: str, keep: bool, weight: float = 1.0, held_out: bool = False):
    def deco(fn: Callable[[Ctx], Result]) -> Callable[[Ctx], Result]:
        FAMILIES.append(Family(name, keep, weight, held_out, fn))
        return fn

    return deco


# ----- positives -----------------------------------------------------------------------


@family("self_name", True, 0.8)
def _self_name(c: Ctx) -> Result:
    t = [
        "My name is {n2}.", "I'm {n2}, by the way.", "you can call me {n2}",
        "{n2} here, nice to meet you", "I go by {n2}, nobody uses my full name", "the name's {n2}",
        "please call me {n2} from now on", "it's {n2}. with a capital letter lol",
        "hi, I'm {n2} and I'm a {job}", "Just call me {n2}.", "me? I'm {n2}",
        "My friends call me {n2}, you can too.",
    ]  # fmt: skip
    return c.fill(t), 0.8, 0.95, "fact"


@family("self_age", True, 0.7)
def _self_age(c: Ctx) -> Result:
    t = [
        "I'm {age}.", "I just turned {age}", "I'm {age} years old", "turning {age} next month, ugh",
        "as a {age} year old {job} I feel ancient", "I'm {age} and still can't cook rice",
        "I was born in {year}", "{age} this year", "I'm in my {age}th year on this planet haha",
        "i'm {age}, married, two kids",
    ]  # fmt: skip
    return c.fill(t), 0.62, 0.85, "fact"


@family("job", True, 1.4)
def _job(c: Ctx) -> Result:
    t = [
        "I work as a {job}.", "I'm a {job} at {wp}", "I've been a {job} for {k} years now",
        "just got hired as a {job} at {wp}!!", "my job: {job}. long hours, low pay.",
        "I work nights as a {job}", "i'm a {job}, so weekends are usually busy for me",
        "I'm a {job} by trade but I'm retraining", "day job is {job}, side hustle is {hobby}",
        "I work at {wp}, I'm a {job} there", "currently unemployed, was a {job} until {month}",
        "I retired last year after {k} years as a {job}", "started a new job as {job} on monday",
        "I'm self-employed, freelance {job}", "work-wise I'm a {job} in {city}",
        "I teach part time and work as a {job} the rest of the week",
    ]  # fmt: skip
    return c.fill(t), 0.72, 0.9, "fact"


@family("location", True, 1.3)
def _location(c: Ctx) -> Result:
    t = [
        "I live in {city}.", "I'm based in {city}", "we live just outside {city}",
        "I'm from {country} but I live in {city} now", "home is {city} these days",
        "I grew up in {city}", "i live in {city} with my {rel}", "we're in {city}, near the river",
        "moved to {city} {k} years ago and never left",
        "I split my time between {city} and {city2}", "I'm originally from {country}",
        "born and raised in {city}", "I live in a tiny flat in central {city}",
        "we just bought a place in {city}", "my hometown is {city}",
        "I commute from {city2} to {city} every day",
    ]  # fmt: skip
    kind = "fact"
    return c.fill(t), 0.72, 0.9, kind


@family("people", True, 2.0)
def _people(c: Ctx) -> Result:
    t = [
        "My {rel} is called {n}.", "my {rel} {n} is a {job}", "{n} is my {rel}",
        "my {rel}'s name is {n}", "I have two kids, {f} and {m}",
        "{n2} and I have been together for {k} years", "my {rel} {n} lives in {city}",
        "I'm married to {n2}", "my best friend {n2} just moved to {city}",
        "I have a {rel}, {n}, who is {age}", "we have three kids: {f}, {m} and {n2}",
        "My {rel} {n} is the most important person in my life.", "{n} (my {rel}) works at {wp}",
        "my {rel} {n} is staying with us until {month}", "I'm a single dad to {m}, he's {kid_age}",
        "I'm a single mum, my daughter {f} is {kid_age}",
        "my {rel} {n} is expecting a baby in {month}", "my {rel} {n} is a huge {music} fan",
        "I'm an only child", "I have {k} siblings, I'm the youngest",
        "{n} is my {rel}, we're really close",
        "my {rel} is {n}, he or she might message you too lol",
    ]  # fmt: skip
    return c.fill(t), 0.78, 0.95, "relationship"


@family("pets", True, 1.0)
def _pets(c: Ctx) -> Result:
    t = [
        "I have a {pet} called {pn}.", "our {pet} {pn} is {k} years old", "{pn} is my {pet}",
        "we just adopted a {pet}, named her {pn}", "my {pet} {pn} hates the vacuum lol",
        "I've got two cats, {pn} and Mango", "{pn} (my {pet}) has a vet visit every march",
        "my {pet} is called {pn} and she's my whole world", "we have a {pet}, {pn}, and a toddler",
        "my old {pet} {pn} is diabetic and needs shots twice a day",
        "I'm a dog person, my dog is {pn}", "got a {pet} puppy last week!! his name is {pn}",
    ]  # fmt: skip
    return c.fill(t), 0.7, 0.88, "relationship"


@family("allergy", True, 1.3)
def _allergy(c: Ctx) -> Result:
    t = [
        "I'm allergic to {a}.", "allergic to {a}", "severe {a} allergy here, I carry an epipen",
        "just so you know, {a} make me break out in hives", "no {a} for me, I'm allergic",
        "{a} allergy!!", "i cant have {a}, allergic", "I'm deathly allergic to {a}",
        "my {rel} {n} is allergic to {a}", "doctor confirmed today I'm allergic to {a}",
        "I react badly to {a}", "pls remember I'm allergic to {a}", "anaphylactic to {a}",
        "I have a mild {a} allergy", "my kid is allergic to {a} so we keep it out of the house",
        "allergies: {a}", "{a} = hospital for me, never suggest it",
    ]  # fmt: skip
    return c.fill(t), 0.88, 1.0, "fact"


@family("condition", True, 1.2)
def _condition(c: Ctx) -> Result:
    t = [
        "I have {cond}.", "I was diagnosed with {cond} in {year}",
        "living with {cond} since {year}", "my {rel} has {cond}",
        "I've had {cond} since I was a kid", "got diagnosed with {cond} last {month}",
        "I'm managing {cond} with diet and meds", "just found out I have {cond}",
        "{cond} runs in my family, my {rel} has it too", "fyi I have {cond} so some days are rough",
        "I'm pregnant, due in {month}!", "I'm {k} weeks pregnant",
        "I had knee surgery in {month}, still recovering", "I'm in recovery, {k} years sober",
        "I'm partially deaf in my left ear", "I'm colourblind", "I use a wheelchair",
        "my {rel} {n} has {cond}",
    ]  # fmt: skip
    return c.fill(t), 0.85, 1.0, "fact"


@family("medication", True, 0.8)
def _medication(c: Ctx) -> Result:
    t = [
        "I take {med} every morning.", "I'm on {med}", "started {med} last week, doc's orders",
        "I need {med} twice a day", "I've been on {med} for {k} years",
        "my {rel} takes {med}, I have to remind them", "can't mix alcohol with my {med}",
        "I'm on {med} for my {cond}", "switched from {med} to insulin this month",
    ]  # fmt: skip
    return c.fill(t), 0.84, 0.96, "fact"


@family("diet", True, 0.9)
def _diet(c: Ctx) -> Result:
    t = [
        "I'm vegetarian.", "I'm vegan", "I don't eat pork", "I keep halal", "I keep kosher",
        "I don't drink alcohol", "I'm pescatarian", "gluten free for me please",
        "i'm lactose intolerant", "I don't eat red meat anymore", "I've been vegan since {year}",
        "we're a vegetarian household", "no caffeine for me after {time}", "I don't eat beef",
        "I'm on a low-sodium diet for my heart", "I'm doing keto", "my {rel} is vegan",
        "I fast during Ramadan", "I'm teetotal",
    ]  # fmt: skip
    return c.fill(t), 0.72, 0.9, "preference"


@family("food_pref", True, 1.3)
def _food(c: Ctx) -> Result:
    t = [
        "I love {food}.", "{food} is my absolute favourite", "I can't stand {bad}",
        "I hate {bad}, always have", "could eat {food} every day", "not a fan of {bad} at all",
        "my comfort food is {food}", "favourite food? {food}, no contest",
        "I'm obsessed with {food} lately", "{bad} is disgusting, never put it in a recipe for me",
        "I like my food really spicy", "I'd pick {food} over anything",
        "ew {bad}. hard pass, always", "my {rel} {n} loves {food}", "my weakness is {food}",
        "I don't like sweet breakfasts", "I prefer tea over coffee", "I only drink oat milk",
        "please no {bad} in recipes, I hate it",
    ]  # fmt: skip
    return c.fill(t), 0.6, 0.8, "preference"


@family("media_pref", True, 1.1)
def _media(c: Ctx) -> Result:
    t = [
        "I'm really into {music}", "I listen to {music} pretty much all day",
        "big {music} fan here", "I can't stand {music}", "I love {media}",
        "I've watched every episode of {media}", "my favourite thing is {media}",
        "huge fan of {media}", "not into {media} at all", "my guilty pleasure is {media}",
        "i'm seeing {music} live in {month}!!", "{music} is my jam", "I read a lot of {media}",
        "I never miss {media}", "my {rel} got me into {music}",
    ]  # fmt: skip
    text = c.fill(t)
    return text, 0.58, 0.78, "plan" if "live in" in text else "preference"


@family("hobby", True, 1.2)
def _hobby(c: Ctx) -> Result:
    t = [
        "I've been into {hobby} for {k} years", "I do {hobby} on weekends",
        "my main hobby is {hobby}", "big fan of {hobby}",
        "i started {hobby} recently and I'm hooked", "{hobby} keeps me sane",
        "I spend most evenings {hobby}", "my {rel} and I do {hobby} together",
        "I'm part of a {hobby} club", "I gave up {hobby} after my injury",
        "I'm terrible at {hobby} but I love it", "when I'm not working I'm {hobby}",
        "I competed in {hobby} at uni",
    ]  # fmt: skip
    return c.fill(t), 0.6, 0.8, "preference"


@family("trip", True, 1.2)
def _trip(c: Ctx) -> Result:
    t = [
        "I'm flying to {dest} on {date}", "we're going to {dest} for {k} days in {month}",
        "booked a trip to {dest}! leaving {date}", "planning a trip to {dest} next {season}",
        "heading to {dest} for work from {date} to {date2}", "honeymoon in {dest} in {month} 😍",
        "my {rel} and I are visiting {dest} {soon}", "I'll be in {dest} the whole of {month}",
        "visiting my {rel} in {city} {soon}",
        "road trip to {dest} with {n2} over the {season} break",
        "we leave for {dest} {soon}, flight at {time}", "I'm moving to {city} in {month}",
        "going home to {country} for christmas",
        "I'll be offline {date} to {date2}, camping in {dest}",
    ]  # fmt: skip
    return c.fill(t), 0.68, 0.88, "plan"


@family("appointment", True, 1.1)
def _appointment(c: Ctx) -> Result:
    t = [
        "I have a {appt} {soon} at {time}", "{appt} {date}, {time}", "remind me: {appt} next {wd}",
        "got my {appt} on {date}, nervous", "booked a {appt} for {wd} {time}",
        "my {rel} has a {appt} {soon}, I'm driving them", "{appt} moved to {date}",
        "I need to be at the {appt} by {time} on {wd}", "there's a {appt} for {n} {soon}",
        "don't let me forget the {appt} {soon}",
    ]  # fmt: skip
    return c.fill(t), 0.6, 0.82, "plan"


@family("deadline", True, 1.0)
def _deadline(c: Ctx) -> Result:
    t = [
        "my {dl} is due {date}", "{dl} deadline is {date}", "I need to submit my {dl} by {wd}",
        "the {dl} has to be in by {date}, stressing", "{dl} due {soon}!!",
        "I have until {date} to finish the {dl}", "deadline for my {dl}: end of {month}",
        "I'm presenting the {dl} to the board on {date}",
        "my {rel}'s {dl} is due {soon}, helping out",
    ]  # fmt: skip
    return c.fill(t), 0.68, 0.85, "plan"


@family("birthday", True, 1.1)
def _birthday(c: Ctx) -> Result:
    t = [
        "my {rel} {n}'s birthday is {date}", "{n} turns {kid_age} on {date}",
        "my birthday is {date}", "our anniversary is {date}",
        "my son {m} turns {kid_age} on {date}", "my daughter {f} was born on {date}",
        "it's my {rel}'s birthday {soon}, she'll be {age}", "bday: {date}",
        "I was born on {date}, {year}", "{pn}'s adoption day is {date}, we celebrate it",
        "{f} and {m} got married on {date}, it's their anniversary",
        "my wedding anniversary is in {month}", "my {rel} {n} turns {age} on {date}",
    ]  # fmt: skip
    return c.fill(t), 0.78, 0.95, "fact"


@family("life_event", True, 2.2)
def _life_event(c: Ctx) -> Result:
    t = [
        "I got married last {month}", "my dad passed away in {month}",
        "we just had a baby girl, {f}!", "I graduated from {uni} in {year}",
        "got promoted to senior {job} today", "I moved to {city} in {year}",
        "broke my leg skiing last winter", "my {rel} and I broke up last week",
        "we bought our first house in {city}", "lost my job last month",
        "I ran my first marathon on sunday", "my {rel} {n} died in {year}, still miss them",
        "we got engaged on {date}!!", "I got my citizenship today",
        "my divorce was finalised in {month}", "we adopted {pn}, a rescue {pet}, last {season}",
        "I had a miscarriage in {month}", "my grandma {f} passed last week",
        "got my PhD in {subject} this {season}", "I survived cancer in {year}",
        "my {rel} moved back to {country} last year",
        "I was in a car accident in {year} and still have back pain",
        "we eloped in {dest} in {year}", "my {rel} {n} got out of hospital yesterday",
        "I finished my last round of chemo in {month}",
        "we sold the house in {city2} and moved to {city}",
        "my {rel} and I had our first baby in {month}, {m}",
        "I came back from {dest} last week, best trip of my life",
        "I quit my job at {wp} on friday", "my {pet} {pn} died last {month}, I'm heartbroken",
        "we renewed our vows on {date}", "I started a business in {year}, a small {food} stall",
        "my {rel} {n} got arrested last month", "I became a grandparent in {month}! little {f}",
        "I had my gallbladder removed in {year}",
    ]  # fmt: skip
    return c.fill(t), 0.7, 0.95, "event"


@family("correction", True, 1.1)
def _correction(c: Ctx) -> Result:
    a1, a2 = c.pick2(ALLERGENS)
    j1, j2 = c.pick2(JOBS)
    n1, n2 = c.pick2(FEMALE)
    t = [
        "actually I moved to {city}, not {city2}",
        "sorry, correction: my daughter's name is " + n1 + ", not " + n2,
        "no wait, I'm allergic to " + a1 + ", not " + a2,
        "I said " + j2 + " earlier but I'm actually a " + j1,
        "my birthday is {date}, not {date2} like I said",
        "correction: we live in {city} now, we left {city2} in {year}",
        "ignore what I said before, I'm not vegetarian anymore",
        "small fix: my {rel}'s name is spelled {n}",
        "update: I don't work at {wp} anymore, I'm a {job} now", "I'm {age}, not {k}0, I mistyped",
        "wait no, the wedding is in {month}, not {season}",
        "not {city2}! {city}. I always mix them up in my head",
        "earlier I said I have a cat, it's actually a {pet}", "that's outdated, I'm single now",
    ]  # fmt: skip
    return c.fill(t), 0.85, 0.96, "fact"


@family("plan_change", True, 0.6)
def _plan_change(c: Ctx) -> Result:
    t = [
        "update: the trip to {dest} is now on {date}, not {date2}",
        "scratch that, we're not going to {dest} anymore", "the {appt} got moved to {wd} {time}",
        "we postponed the wedding to {month} {fyear}",
        "cancelled my {dest} trip, work got in the way",
        "change of plans, I'm starting the new job on {date}",
    ]  # fmt: skip
    return c.fill(t), 0.7, 0.88, "plan"


@family("buried_request", True, 1.6)
def _buried(c: Ctx) -> Result:
    t = [
        ("can you suggest a gift for my wife {f}, she loves {hobby}?", "relationship"),
        ("what should I cook tonight? I'm vegetarian and my partner hates {bad}", "preference"),
        ("help me write a birthday message for my mom, she's turning {age}", "relationship"),
        ("any restaurant tips in {city}? I just moved here", "fact"),
        (
            "recommend a book for my son {m}, he's {kid_age} and obsessed with dinosaurs",
            "relationship",
        ),
        ("how do I tell my boss {n2} I need time off for my {appt}?", "relationship"),
        ("can you make a packing list for {dest}? we leave on {date}", "plan"),
        ("as someone with {cond}, what snacks should I keep at work?", "fact"),
        ("give me a 3 day meal plan, no {a}, I'm allergic", "fact"),
        ("I'm a {job} — how do I ask for a raise?", "fact"),
        ("what's a good name for a {pet}? we're picking one up {soon}", "plan"),
        (
            "translate 'happy birthday grandma' into {lang}, my grandma {f} only speaks {lang}",
            "relationship",
        ),
        ("my daughter {f} starts school in {month}, what should she bring?", "relationship"),
        ("help me plan {n2}'s surprise party on {date}, she loves {food}", "plan"),
        ("I'm training for the {city} marathon in {month}, can you make me a plan?", "plan"),
        ("what wine goes with {food}? it's for my in-laws, they don't drink red", "relationship"),
        ("since I'm allergic to {a}, is this recipe safe?", "fact"),
        ("suggest some {music} songs for my wedding playlist, we get married {date}", "plan"),
        ("how do I help my {rel} {n} cope with {cond}?", "relationship"),
        ("can you check this email to my landlord in {city}? I've lived here {k} years", "fact"),
        ("I'm learning {lang} for my move to {city} — what app is best?", "plan"),
        ("what's a good hobby to share with my husband {m}? he's into {hobby}", "relationship"),
        ("can you explain my {med} side effects? I just started it", "fact"),
        ("I have a {pet} and a newborn, how do I introduce them?", "relationship"),
    ]
    text_t, kind = c.tpl(t)
    return text_t.format(**c.slots()), 0.62, 0.85, kind


@family("work_detail", True, 1.0)
def _work(c: Ctx) -> Result:
    t = [
        "I'm leading the {project} project at work", "my team uses {tool} for everything",
        "my manager is {n2}", "I work from home on mondays and fridays",
        "our team got reorganised, I report to {n2} now", "I'm on call every other week",
        "my shift pattern is 4 on 4 off", "I'm the only {job} in my company",
        "the {project} launch is planned for {month}", "I manage a team of {k} people",
        "my contract ends in {month}", "I work 4 days a week, fridays off",
        "I started at {wp} in {year}", "my commute is about an hour each way",
        "{n2} from work is my mentor",
    ]  # fmt: skip
    text = c.fill(t)
    return text, 0.6, 0.8, "plan" if "planned for" in text or "ends in" in text else "fact"


@family("relationship_dynamics", True, 1.0)
def _dynamics(c: Ctx) -> Result:
    t = [
        "my {rel} {n} and I aren't talking right now", "{n2} is my closest friend, we met at uni",
        "my boss {n2} is really supportive", "I don't get along with my {rel}",
        "my {rel} {n} is going through chemo", "{n2} is my ex, please don't bring them up",
        "my parents are divorced, I'm closer to my mum", "I'm estranged from my dad",
        "my {rel} {n} is my emergency contact", "I'm the main carer for my {rel}, she has dementia",
        "{n2} is my sponsor", "I co-parent with my ex {n2}, we alternate weeks",
        "I've been dating {n2} for {k} months", "my {rel} {n} is moving in with us in {month}",
    ]  # fmt: skip
    return c.fill(t), 0.68, 0.92, "relationship"


@family("education", True, 0.9, held_out=True)
def _education(c: Ctx) -> Result:
    t = [
        "I'm studying {subject} at {uni}", "I'm in my second year of {subject}",
        "doing a master's in {subject} part time", "I dropped out of {subject} to start a business",
        "I'm a final year {subject} student", "starting a {subject} degree in {month}",
        "I did my undergrad in {subject} at {uni}", "I'm retaking my {subject} exams in {month}",
    ]  # fmt: skip
    text = c.fill(t)
    return text, 0.7, 0.85, "plan" if "starting" in text or "retaking" in text else "fact"


@family("languages_spoken", True, 0.7, held_out=True)
def _languages(c: Ctx) -> Result:
    l1, l2 = c.pick2(LANGUAGES)
    t = [
        "I speak " + l1 + " and " + l2, l1 + " is my first language",
        "I'm learning " + l1 + ", about B1 now",
        "I'm fluent in " + l1 + " but my " + l2 + " is rusty", "we speak " + l1 + " at home",
        "my native language is " + l1 + ", sorry for my english",
    ]  # fmt: skip
    return c.tpl(t), 0.6, 0.78, "fact"


@family("goals", True, 0.8, held_out=True)
def _goals(c: Ctx) -> Result:
    t = [
        "I'm trying to lose {k} kilos before {month}",
        "my goal this year is to run a half marathon",
        "saving up for a house, trying to put away 500 a month",
        "I want to quit smoking by {month}", "my new year's resolution is to read {k}0 books",
        "I'm training to become a {job}", "I'm trying to cut down on sugar",
        "I want to be fluent in {lang} by the end of {fyear}", "I'm doing dry january",
        "we're trying for a baby",
    ]  # fmt: skip
    return c.fill(t), 0.62, 0.82, "plan"


@family("minor_lasting", True, 1.3)
def _minor(c: Ctx) -> Result:
    t = [
        "I usually take the bus to work", "my favourite colour is {colour}",
        "I take my coffee black", "I prefer window seats", "I'm more of a morning person",
        "I usually go to bed around 11", "I always shop at {shop}", "I prefer texts over calls",
        "I'm left-handed", "I drive {car}", "I prefer metric units",
        "keep your answers short please, I hate long replies",
        "I like it when you use bullet points", "I'm a night owl", "I always walk to work",
        "I don't use facebook", "I use an iphone", "my go-to drink is an oat flat white",
        "I hate flying", "I'm afraid of heights", "I don't like crowds", "I prefer cats to dogs",
        "I always sleep with a fan on", "I never watch the news", "I like my room cold",
        "I'm not really a sports person", "I get carsick easily", "I'm a terrible swimmer",
        "I do my grocery shopping on sundays", "call me by my first name, no 'sir' please",
    ]  # fmt: skip
    text = c.fill(t)
    kind = (
        "fact"
        if any(w in text.lower() for w in ("left-handed", "iphone", "drive", "carsick"))
        else "preference"
    )
    return text, 0.51, 0.62, kind


@family("summary", True, 1.5)
def _summary(c: Ctx) -> Result:
    t = [
        "quick recap about me: {job} in {city}, {k} kids, allergic to {a}",
        "to sum up: I'm {n2}, {age}, I live in {city} with my {rel} {n} and our {pet} {pn}",
        "for context: I'm a {job}, I have {cond}, and I'm moving to {city2} in {month}",
        "so, recap of my week: started at {wp}, my {rel} {n} visited, and we booked {dest}",
        "tl;dr I moved to {city}, work as a {job} now, and still hate {bad}",
        "about me in a nutshell: {age}, {job}, {hobby} nerd, {food} addict",
        "background: married to {n2}, two kids, we live in {city}, I'm allergic to {a}",
        "let me summarize: {dl} due {date}, {appt} {soon}, and {n2}'s birthday is {date2}",
        "Some things about me. I'm {n2}. I'm a {job}. I live in {city}. I can't eat {a}.",
        "updates since we last talked: broke up with {n2}, moved to {city}, adopted {pn}",
        "ok so the important stuff: I'm {age}, I work at {wp}, and my {rel} {n} has {cond}",
        "in short — new city ({city}), new job ({job}), same old {hobby} obsession",
        "summary of me: vegetarian, {job}, two cats, live in {city}, hate {bad}",
        "Here's my situation: I'm a {job}, divorced, kids {f} and {m} are with me half the week.",
        "recap: {dl} due {date}, flying to {dest} on {date2}, {rel}'s birthday in between",
        "basically: I'm {n2}, from {country}, lived in {city} for {k} years, I'm a {job}",
    ]  # fmt: skip
    return c.fill(t), 0.82, 0.96, "summary"


@family("emotional_disclosure", True, 0.8, held_out=True)
def _emotional(c: Ctx) -> Result:
    t = [
        "I've been struggling with grief since my {rel} died in {month}",
        "honestly I've been really depressed since the divorce",
        "I'm terrified of losing my job at {wp}",
        "I have panic attacks before flights, always have",
        "I was bullied a lot at school and it still affects me",
        "I'm really proud that I've been clean for {k} years",
        "the anniversary of my mum's death is {date}, it's always hard",
        "I'm in therapy for burnout, seeing someone every {wd}",
        "I came out to my parents last {month}", "I'm neurodivergent, so please be direct with me",
    ]  # fmt: skip
    return c.fill(t), 0.78, 0.95, "fact"


@family("place_routine", True, 0.8, held_out=True)
def _place(c: Ctx) -> Result:
    t = [
        "my gym is the one on the high street, I go {wd}s",
        "our family doctor is Dr {m} at the {city} clinic",
        "the kids' school is St Mary's, pick-up is at 3:15",
        "my favourite cafe in {city} is the one by the station",
        "my {rel} lives two streets away from me", "I volunteer at the animal shelter every {wd}",
        "I play five-a-side every {wd} night", "we go to my in-laws in {city} every sunday",
        "choir practice is every {wd} at 7", "I park at the {city} central garage for work",
    ]  # fmt: skip
    return c.fill(t), 0.55, 0.75, "fact"


@family("milestone", True, 1.2, held_out=True)
def _milestone(c: Ctx) -> Result:
    t = [
        "big news: {n2} proposed last night and I said yes!!",
        "my {rel} {n} just retired after {k}0 years", "I passed my probation at {wp} today",
        "signed the mortgage papers today, the flat in {city} is ours",
        "the divorce came through this morning",
        "we got the keys to our new place in {city} yesterday", "I was made redundant in {month}",
        "my {rel} {n} graduated from {uni} last week",
        "I had a heart attack in {year}, I'm fine now but careful",
        "my {rel} {n} moved into a care home in {month}", "we lost our {pet} {pn} over the weekend",
        "I officially became a {job} today after {k} years of training",
    ]  # fmt: skip
    return c.fill(t), 0.72, 0.95, "event"


@family("people_aside", True, 1.2, held_out=True)
def _people_aside(c: Ctx) -> Result:
    t = [
        "{n} is my {rel}'s name, in case I mention them",
        "my {rel} just got a job as a {job} at {wp}",
        "my {rel} {n} is {age} and lives in a care home",
        "the kids are {f} ({kid_age}) and {m} ({k})",
        "{n2}, my partner, is the one who cooks in our house",
        "my {rel} {n} is deaf, we sign at home",
        "my {rel} is visiting from {country}, staying till {month}",
        "{n2} is my flatmate, she's a {job}", "my {rel}'s called {n}, you'll hear about them a lot",
        "my {rel} {n} is the godfather of my son",
    ]  # fmt: skip
    return c.fill(t), 0.75, 0.92, "relationship"


@family("profile_summary", True, 0.8, held_out=True)
def _profile(c: Ctx) -> Result:
    t = [
        "name: {n2}, age: {age}, city: {city}, job: {job}",
        "Facts about me: 1) I'm a {job} 2) I live in {city} 3) I'm allergic to {a}",
        "Me: {age}, {job}, {city}. Partner: {n2}. Pet: {pn} the {pet}.",
        "things you should know: I have {cond}, I don't eat {bad}, and my {rel} {n} lives with me",
        "recap of the last month: moved to {city}, started at {wp}, and my {rel} {n} had a baby",
    ]  # fmt: skip
    return c.fill(t), 0.84, 0.96, "summary"


@family("pref_aside", True, 1.0, held_out=True)
def _pref_aside(c: Ctx) -> Result:
    t = [
        "hard pass on {bad}, forever", "I'm a {music} person through and through",
        "dogs > cats, sorry not sorry", "nothing beats {food}",
        "{hobby} is basically my personality now", "I'd rather die than listen to {music}",
        "for me it's {food} every single friday", "I'm weirdly into {media}",
        "never book me anything with {bad}", "I only buy second-hand clothes",
        "I'm not a fan of surprises, tell me things in advance",
    ]  # fmt: skip
    return c.fill(t), 0.58, 0.8, "preference"


# ----- negatives -----------------------------------------------------------------------

GREETINGS = [
    "hi", "hello", "hey", "hey there", "good morning", "good evening", "good night", "yo", "hiya",
    "morning!", "hey pipo", "hello again", "sup", "hi there :)", "heyyy", "greetings", "howdy",
    "good afternoon", "evening!", "hi again", "hey you", "hellooo", "gm", "night night", "bye!",
    "see you later", "ttyl", "cya", "talk soon", "catch you tomorrow", "I'm back", "brb",
    "gotta go", "back again", "ok bye", "later!", "goodnight pipo", "hey, it's me again",
]  # fmt: skip
THANKS = [
    "thanks", "thank you", "thx", "ty", "thanks a lot", "thank you so much!", "cheers",
    "much appreciated", "thanks, that helps", "perfect, thanks", "great, thank you", "ty ty",
    "thank u", "thanks mate", "thanks!!", "you're the best", "legend, thanks", "appreciate it",
    "that was helpful", "awesome thanks", "many thanks", "thanks for that", "helpful as always",
    "ok thank you", "thanks anyway", "danke", "merci", "gracias",
]  # fmt: skip
FILLER = [
    "ok", "okay", "k", "kk", "lol", "lmao", "hmm", "hmmm", "sure", "yes", "no", "yep", "nope",
    "got it", "alright", "fine", "cool", "nice", "great", "right", "ah", "oh", "uh huh", "mhm",
    "yeah", "nah", "true", "fair", "idk", "maybe", "whatever", "same", "ikr", "huh?", "?", "...",
    "wait", "go on", "continue", "and?", "next", "makes sense", "noted", "sounds good", "ok ok",
    "hm ok", "yeah yeah", "oh ok", "i see", "understood", "never mind", "nvm", "one sec", "hold on",
    "fair enough", "ok then", "yes please", "no thanks", "please", "again?", "more", "shorter",
    "in english please", "try again", "👍", "😂", "🙏", "ok 👌",
]  # fmt: skip
REACTIONS = [
    "that's funny", "haha nice one", "wow really?", "interesting", "no way", "that's wild",
    "that's not what I asked", "lol you're right", "omg", "that's so cool", "ha, good point",
    "wait what", "that's hilarious", "I didn't know that", "mind blown", "oof", "yikes",
    "that's kind of sad", "love that", "you're funny", "that's a terrible joke lol",
    "hmm not sure about that", "that's wrong", "no that's not right", "exactly!", "spot on",
    "that's a weird answer", "I love that answer", "can't argue with that", "so true",
    "well that escalated", "this is fun", "you're getting better at this", "nice try", "hahaha",
    "bruh", "oh wow", "seriously?", "sounds fake but ok", "lovely",
]  # fmt: skip


def _pick_list(c: Ctx, items: list[str]) -> str:
    return c.pick(items)


@family("greeting", False, 0.8)
def _greeting(c: Ctx) -> Result:
    return _pick_list(c, GREETINGS), 0.0, 0.05, "other"


@family("thanks", False, 0.7)
def _thanks(c: Ctx) -> Result:
    return _pick_list(c, THANKS), 0.0, 0.06, "other"


@family("filler", False, 1.0)
def _filler(c: Ctx) -> Result:
    return _pick_list(c, FILLER), 0.0, 0.05, "other"


@family("reaction", False, 0.9)
def _reaction(c: Ctx) -> Result:
    return _pick_list(c, REACTIONS), 0.02, 0.1, "other"


@family("general_question", False, 2.2)
def _general_q(c: Ctx) -> Result:
    t = [
        "what's the capital of {country}?", "how does {topic} work?",
        "can you explain {topic} simply?", "who was {famous}?", "who wrote {book}?",
        "what's the population of {city}?", "why is the sky blue?", "how far is the moon?",
        "what year did the Berlin wall fall?",
        "what's the difference between a virus and a bacteria", "explain {topic} like I'm five",
        "is {topic} real?", "how many calories in a banana", "what time is it in {city} right now?",
        "how do you pronounce {city}?", "what does 'ubiquitous' mean?", "is a tomato a fruit?",
        "what's the tallest mountain in {country}?", "when did {famous} die?",
        "summarise the plot of {book}", "what currency do they use in {country}?",
        "how long do you boil an egg?", "what are the symptoms of {cond}?",
        "is {a} a common allergy?", "what's a good dog breed for a small flat?",
        "how do {job}s get certified?", "what is {med} used for?",
        "how long is a flight from {city} to {city2}?", "what language do they speak in {country}",
        "how many people live in {country}?", "what's the best way to learn {lang}?",
        "what's {topic}?", "tell me a fun fact about {topic}", "how old is the universe",
        "what is the speed of light", "why do cats purr?",
    ]  # fmt: skip
    return c.fill(t), 0.02, 0.12, "other"


@family("one_off_request", False, 2.2)
def _request(c: Ctx) -> Result:
    t = [
        "write a poem about {thing}", "convert {k}0 miles to km",
        "fix my code: TypeError: 'NoneType' object is not subscriptable",
        "translate 'where is the train station' to {lang}", "give me 5 name ideas for a bakery",
        "write a haiku about {thing}", "what's 17% of 240?", "summarize this article for me",
        "can you make this email more formal?", "draft a polite reply declining a meeting",
        "give me a recipe for {food}", "write a limerick about {thing}", "tell me a joke",
        "generate a random password", "convert 350F to celsius",
        "sort this list alphabetically: pear, apple, fig", "make a workout plan for beginners",
        "write a SQL query to count rows per day", "explain this regex: ^\\d{{3}}-\\d{{4}}$",
        "rewrite this paragraph to sound friendlier",
        "suggest a title for a blog post about {topic}",
        "give me 10 trivia questions about {topic}", "how do I center a div",
        "write a bedtime story about {thing}", "list some synonyms for 'happy'",
        "proofread: 'their going to the park tomorow'", "calculate 12 times 37",
        "recommend a podcast about {topic}", "write a short speech about {thing}",
        "can you turn this into bullet points?", "what rhymes with orange",
        "write python to reverse a string", "give me a riddle",
        "create a crossword clue for '{city}'", "plan a 3 day itinerary for {city}", "roll a dice",
        "flip a coin", "pick a random number between 1 and 100",
    ]  # fmt: skip
    return c.fill(t), 0.02, 0.15, "other"


@family("weather", False, 0.8)
def _weather(c: Ctx) -> Result:
    t = [
        "it's so hot today", "it's pouring here", "what's the weather like in {city} tomorrow?",
        "ugh this rain", "finally some sun!", "it's freezing this morning",
        "will it snow this weekend?", "so windy out there", "lovely weather today",
        "is it going to rain later?", "humid af today", "grey skies again",
        "weather's been weird lately", "it's like 35 degrees in {city} rn",
        "storm coming apparently", "do I need a jacket in {city} in {month}?",
    ]  # fmt: skip
    return c.fill(t), 0.03, 0.2, "other"


@family("assistant_smalltalk", False, 1.0)
def _smalltalk(c: Ctx) -> Result:
    t = [
        "how are you?", "what's your name?", "are you a robot?", "do you dream?", "you're smart",
        "can you remember things?", "who made you?", "are you conscious?", "do you like music?",
        "what's your favourite food?", "how old are you?", "are you better than chatgpt?",
        "do you get tired?", "what can you do?", "how's your day going?", "you there?",
        "can you hear me", "are you listening", "are you alive?", "do you have feelings?",
        "what are you up to", "tell me about yourself", "do you ever sleep?", "good bot", "bad bot",
        "you're slow today", "what model are you", "is this thing on?",
    ]  # fmt: skip
    return c.fill(t), 0.0, 0.1, "other"


@family("my_question", False, 1.6)
def _my_question(c: Ctx) -> Result:
    t = [
        "what's my best option for lunch?", "can you check my grammar in this sentence?",
        "should I take my umbrella today?", "how do I reset my router?",
        "how do I update my phone?", "what should I name my spreadsheet?",
        "how do I clean my keyboard?", "can you proofread my paragraph?",
        "is my password strong enough?", "what should I do with my afternoon?",
        "how can I make my code faster?", "what's wrong with my sentence?",
        "can you improve my title?", "help me with my homework question about {topic}",
        "how do I clear my browser cache?", "where did I put my keys lol",
        "what should my next move be in chess?", "how do I back up my laptop?",
        "can you rate my haiku?", "what's a good caption for my photo of {thing}?",
        "how do I get my printer to work?", "should I wear my blue or my black shirt today?",
        "which of my two options sounds better, A or B?",
        "what do you think of my idea for a story about {thing}?", "can you format my list?",
        "how do I split my screen on windows?", "how do I mute my mic on zoom?",
        "can you translate my sentence into {lang}?", "make my essay intro punchier",
        "what's my horoscope today?",
    ]  # fmt: skip
    return c.fill(t), 0.04, 0.2, "other"


@family("transient_personal", False, 2.0)
def _transient(c: Ctx) -> Result:
    t = [
        "I'm eating a sandwich right now", "so tired today", "stuck in traffic", "just made coffee",
        "I'm bored", "my phone is at 5%", "about to hop in the shower", "just finished lunch",
        "watching {media} rn", "I'm at the supermarket", "having a rough day",
        "I forgot my keys again today", "I had pasta for lunch", "my train is late",
        "got a bit of a headache this afternoon", "I'm in {city} for the day",
        "can't sleep tonight", "my coworker brought donuts today",
        "my neighbour's dog barked all night", "just got home", "I'm procrastinating lol",
        "I'm waiting for a package", "on my lunch break", "the wifi is terrible here",
        "spilled coffee on my shirt", "I'm sitting in a cafe", "it's been a long week",
        "just woke up", "I'm listening to {music} right now", "my feet hurt from walking today",
        "making dinner atm", "I'm so hungry", "ate too much lol", "the bus was packed this morning",
        "I'm at my {rel}'s place tonight", "my laptop just restarted on its own", "I'm cold",
        "watching the match tonight", "running late for a meeting", "i'm on the train to {city}",
        "feeling a bit meh today", "had a weird dream last night", "just cleaned the kitchen",
        "my tea went cold", "I stubbed my toe", "I'm in a meeting, one sec",
    ]  # fmt: skip
    return c.fill(t), 0.18, 0.42, "other"


@family("hedge_hypothetical", False, 1.0, held_out=True)
def _hedge(c: Ctx) -> Result:
    t = [
        "I might learn guitar someday, who knows", "if I won the lottery I'd buy a boat",
        "maybe I'll get a dog one day", "what if I moved to {city}? just daydreaming",
        "thinking about maybe cutting my hair, not sure", "if I were a {job} I'd be terrible at it",
        "would be cool to visit {dest} some day", "imagine being a {job} lol",
        "in another life I'd live in {city}", "I sort of want to try {hobby} but probably won't",
        "I may or may not go out tonight", "if I had a cat I'd call it {pn}",
    ]  # fmt: skip
    return c.fill(t), 0.15, 0.4, "other"


@family("fiction_quoted", False, 1.0, held_out=True)
def _fiction(c: Ctx) -> Result:
    t = [
        "write a story about a {job} named {n2} who lives in {city}",
        "pretend you're my grandma and tell me a bedtime story",
        "in my novel the main character {n2} is allergic to {a}, is that plausible?",
        "translate this: 'my husband works in {city}'", "what does 'je suis allergique' mean?",
        "fix the grammar: 'my sister live in {city} and she are a {job}'",
        "make up a fantasy character who is a {job} from {city}",
        "roleplay: you're a {job} and I'm your customer",
        "write a dialogue between {f} and {m} at a bus stop",
        "give me an example sentence with 'my brother-in-law'",
        "how would I say 'I have two kids' in {lang}?",
        "write a fake bio for a {job} called {n2}, for a game",
        "is 'my wife and I' or 'me and my wife' correct?",
    ]  # fmt: skip
    return c.fill(t), 0.03, 0.15, "other"


@family("general_opinion", False, 0.8)
def _opinion(c: Ctx) -> Result:
    t = [
        "I think AI will change everything", "remote work is the future imo",
        "the new phones all look the same", "{topic} is fascinating",
        "politics is exhausting right now", "that movie everyone talks about is overrated",
        "people drive so badly here", "social media is a mess", "{city} seems like a nice place",
        "prices are crazy these days", "{famous} was way ahead of their time",
        "mondays should be illegal", "honestly {topic} makes no sense to me",
        "I feel like summers are getting hotter",
    ]  # fmt: skip
    return c.fill(t), 0.08, 0.28, "other"


@family("meta_assistant", False, 0.6)
def _meta(c: Ctx) -> Result:
    t = [
        "can you say that again?", "make it shorter", "use simpler words", "that was too long",
        "can you give me more examples?", "start over", "what did you just say?",
        "explain the second point", "can you write that as a table?", "let's change topic",
        "forget that last question", "that's not quite it, try again",
        "continue from where you stopped", "go deeper on number 3",
    ]  # fmt: skip
    return c.fill(t), 0.0, 0.08, "other"


@family("status_now", False, 1.4, held_out=True)
def _status_now(c: Ctx) -> Result:
    t = [
        "currently lying on the sofa doing nothing", "rn I'm waiting for my food delivery",
        "at the dentist waiting room, so bored", "on hold with the bank for 40 mins now",
        "just burnt my toast", "my coffee is too hot to drink lol", "I'm halfway through {book}",
        "walking the dog, typing one-handed", "wearing two jumpers today, it's that cold",
        "I'm in {city} airport waiting for a connection", "the neighbours are drilling again",
        "having {food} for dinner tonight", "I've had three coffees already today",
        "just got a parking ticket ugh",
    ]  # fmt: skip
    return c.fill(t), 0.18, 0.42, "other"


@family("pasted_task", False, 1.2, held_out=True)
def _pasted(c: Ctx) -> Result:
    t = [
        "summarise: 'The company reported higher Q3 earnings on strong demand in {country}.'",
        "is this sentence correct: 'me and my wife lives in {city}'",
        "rewrite this for linkedin: 'I have 10 years experience as a {job}'",
        "what's the tone of this message: 'hey, thanks for last night, it was fun'",
        "count the words in: 'the quick brown fox jumps over the lazy dog'",
        "make this sound less rude: 'send it now'", "check my maths: 17 x 23 = 391?",
        "what's the plural of 'cactus'?", "explain this error: KeyError: '{n2}'",
        "translate to {lang}: 'the meeting is at 3pm'",
        "capitalise this title: 'a history of {topic}'",
    ]  # fmt: skip
    return c.fill(t), 0.02, 0.12, "other"


# ----- train-only supplement ----------------------------------------------------------
# Written after a first classifier kept too many false positives: negatives that look like
# facts (first person, names, places, foods) but carry nothing lasting, and positives that
# look like chatter. They only ever go into train (see TRAIN_EXTRA), from a second seeded
# stream, so valid and test stay exactly as they were.

EXTRA_FAMILIES: list[Family] = []


def extra_family(name: str, keep: bool, weight: float = 1.0):
    def deco(fn: Callable[[Ctx], Result]) -> Callable[[Ctx], Result]:
        EXTRA_FAMILIES.append(Family(name, keep, weight, False, fn))
        return fn

    return deco


def _any(c: Ctx, templates: list[str]) -> str:
    return c.rng.choice(templates).format(**c.slots())


@extra_family("daydream", False, 1.3)
def _daydream(c: Ctx) -> Result:
    t = [
        "someday it'd be fun to live in {city}, not that I ever will",
        "in a parallel universe I'm a {job}", "wouldn't it be wild to just move to {dest}",
        "what would it be like to be a {job}? just curious",
        "if money were no object I'd fly to {dest} every month",
        "fantasy: retiring at 40 somewhere like {dest}",
        "sometimes I wonder what {lang} sounds like",
        "if I ever start a band it'll be called {pn} lol",
        "kind of want a {pet} but it's never happening",
        "daydreaming about {dest} again", "should I maybe try {hobby}? eh, probably not",
        "random thought: what if I became a {job}", "would I be a good {job}? prob not haha",
        "imagine living in {city} with a view of the sea", "what if I just dyed my hair {colour}",
        "if I could be anyone for a day I'd be {famous}",
        "part of me wants to buy {car}, part of me doesn't",
        "maybe one day I'll read {book}, who knows",
        "dream job? {job} in {city}. never gonna happen",
        "if I had a boat I'd call it {pn}", "thinking of maybe possibly trying {food} someday",
        "would it be weird to take up {hobby} at my age? just wondering",
        "if I lived in {country} I'd probably eat {food} every day",
    ]  # fmt: skip
    return _any(c, t), 0.12, 0.4, "other"


@extra_family("creative_request", False, 1.4)
def _creative(c: Ctx) -> Result:
    t = [
        "give me a villain name for a {job} from {city}",
        "invent a backstory for a D&D character, a {job} born in {city}",
        "write a short scene where {f} tells {m} she is moving to {city}",
        "describe a day in the life of a {job} in {city}",
        "write a dating profile for a fictional {job} who loves {food}",
        "make up a news headline about a {pet} named {pn}",
        "act as my personal trainer and give me a pep talk",
        "you are a travel agent, sell me a trip to {dest}",
        "write a letter from {famous} to a {job}",
        "compose a song about a girl called {f} who is allergic to {a}",
        "let's play a game: you're a detective and I'm a suspect from {city}",
        "pretend we're old friends catching up in {city}",
        "write a short poem where the narrator has a {pet} called {pn}",
        "create a character sheet: {n2}, {age}, {job}, lives in {city}",
        "write a funny obituary for a houseplant",
        "generate a fake customer review for a {shop} in {city}",
        "role play as {famous} and tell me about your day",
        "write a story that starts with 'my brother {m} moved to {city}'",
        "continue the story: '{f} had always hated {bad}...'",
        "give me a monologue for a {job} who just got fired",
    ]  # fmt: skip
    return _any(c, t), 0.02, 0.15, "other"


@extra_family("text_operation", False, 1.4)
def _text_op(c: Ctx) -> Result:
    t = [
        "proofread: 'I am a {job} with {k} years of experience'",
        "translate into {lang}: 'my brother lives in {city}'",
        "shorten this: 'I have been working as a {job} since {year} and I love it'",
        "is this grammatical? 'my wife and me went to {city} last summer'",
        "how do you say 'I am allergic to {a}' in {lang}?",
        "spell check pls: 'my dauhgter is {kid_age} years old'",
        "make this formal: 'hey, I can't come in, my kid is sick'",
        "translate: 'je m'appelle {n2} et j'habite à {city}'",
        "what does 'mi hermano vive en {city}' mean?",
        "turn this into a tweet: 'just moved to {city}, loving it'",
        "correct my french: 'je suis un {job} à {city}'",
        "summarize this email: 'Hi team, {f} will be out until {date}, please contact {m}.'",
        "paraphrase: 'my {rel} {n} has {cond}'",
        "fix the punctuation: 'my name is {n2} I live in {city} I like {food}'",
        "is 'I been living in {city}' correct english?",
        "rewrite this cover letter line: 'I'm a {job} who loves {hobby}'",
        "example sentence using 'vegetarian' please",
        "how would a native speaker say 'my son is {kid_age}' in {lang}?",
        "what's wrong with this sentence: 'me and {m} is going to {dest}'",
        "translate to english: 'ich bin allergisch gegen {a}'",
    ]  # fmt: skip
    return _any(c, t), 0.02, 0.14, "other"


@extra_family("momentary", False, 1.6)
def _momentary(c: Ctx) -> Result:
    t = [
        "eating {food} on the couch right now", "currently reading {book} on the bus",
        "just finished a run, exhausted", "sitting at {city} station, train's late",
        "drinking my second coffee already", "cooking {food} tonight, wish me luck",
        "trying {food} for the first time today", "listening to {music} while I work",
        "halfway through {media}, no spoilers", "at {shop} and forgot what I came for",
        "in a boring meeting about {tool}", "my {rel} just called, brb",
        "on a video call with {f}, one sec", "waiting at the {appt} for ages",
        "just spilled {food} on my laptop", "the {pet} next door won't stop barking",
        "stuck at work until 7 tonight", "late for the {wd} standup again",
        "just landed in {city} for a work thing", "having lunch with {m} from work",
        "binge watching {media} today", "my legs hurt after {hobby} this morning",
        "grabbing {food} on the way home", "it's {time} and I'm still in bed",
        "stuck in traffic outside {city}", "having a lazy {wd}",
    ]  # fmt: skip
    return _any(c, t), 0.15, 0.4, "other"


@extra_family("how_to_personal", False, 1.0)
def _how_to(c: Ctx) -> Result:
    t = [
        "how do I tell my boss I need a day off?", "how long should I boil {food}?",
        "what should I get my {rel} for their birthday?", "is {food} healthy?",
        "any tips for a first {hobby} lesson?", "how do I get to {city} from the airport?",
        "what's a nice restaurant in {city}?", "how do I apologise to a friend?",
        "what do I pack for a weekend in {dest}?", "how do I fix a squeaky door?",
        "which is better for a beginner, {hobby} or yoga?", "what's a good gift for a {job}?",
        "can I freeze {food}?", "how much should I tip in {country}?",
        "what time do shops close in {city} on {wd}?", "how do I ask for a raise?",
        "what wine goes with {food}?", "how do I get over jet lag after {dest}?",
    ]  # fmt: skip
    return _any(c, t), 0.03, 0.18, "other"


@extra_family("ml_neg_extra", False, 0.9)
def _ml_neg_extra(c: Ctx) -> Result:
    t = [
        ("fr", "écris une histoire sur un {job} qui vit à {city}"),
        ("fr", "traduis en anglais : 'mon frère habite à {city}'"),
        ("fr", "je suis dans le métro là"), ("fr", "peut-être qu'un jour j'irai à {dest}"),
        ("es", "escribe un cuento sobre una chica llamada {f}"),
        ("es", "¿cómo se dice 'soy alérgico' en inglés?"), ("es", "ahora mismo estoy comiendo"),
        ("es", "algún día me gustaría vivir en {city}, quién sabe"),
        ("de", "schreib eine Geschichte über einen {job} aus {city}"),
        ("de", "übersetze: 'meine Schwester wohnt in {city}'"), ("de", "ich bin gerade im Büro"),
        ("de", "vielleicht fahre ich irgendwann nach {dest}"),
        ("pt", "escreve um poema sobre {city}"), ("pt", "tô na fila do banco agora"),
        ("pt", "como se diz 'meu filho tem {kid_age} anos' em inglês?"),
        ("it", "scrivi una storia su un {job} di {city}"), ("it", "sono in treno adesso"),
        ("it", "magari un giorno andrò a {dest}"),
    ]  # fmt: skip
    lang, tpl = c.rng.choice(t)
    return tpl.format(**c.slots()), 0.02, 0.35, "other", lang


@extra_family("casual_fact", True, 1.6)
def _casual_fact(c: Ctx) -> Result:
    t = [
        ("lol I'm literally allergic to {a} so no thanks", 0.85, 0.98, "fact"),
        ("haha my {rel} {n} is a {job}, they'd love that", 0.7, 0.86, "relationship"),
        ("ugh, as a {job} I get this question all the time", 0.7, 0.86, "fact"),
        ("fyi I'm {age} now, not {k}0 lol", 0.8, 0.92, "fact"),
        ("rn I'm still living in {city} btw", 0.75, 0.9, "fact"),
        ("my {pet} {pn} hates baths, any tips?", 0.65, 0.8, "relationship"),
        ("I've signed up for a {hobby} class starting {soon}", 0.68, 0.84, "plan"),
        ("booked it! {dest} on {date} 🎉", 0.7, 0.86, "plan"),
        ("I actually speak {lang} fluently, my mum is from there", 0.7, 0.86, "fact"),
        ("just so u know I can't eat {a}, ever", 0.88, 0.98, "fact"),
        ("since my diagnosis with {cond} I avoid sugar", 0.86, 0.97, "fact"),
        ("translate this for my {rel} {n}, she only speaks {lang}", 0.66, 0.8, "relationship"),
        ("write a birthday message for my husband {m}, he turns {age} on {date}", 0.75, 0.9,
         "relationship"),
        ("I quit my job as a {job} last week, so now what", 0.8, 0.93, "event"),
        ("we're expecting our second baby in {month}!!", 0.88, 0.97, "plan"),
        ("no more {food} for me, I went vegan in {month}", 0.72, 0.88, "preference"),
        ("I really can't stand {bad}, never put it in recipes for me", 0.6, 0.76, "preference"),
        ("hey, I'm {n2} by the way", 0.8, 0.94, "fact"),
        ("my exam in {subject} is on {date}, help me plan revision", 0.68, 0.84, "plan"),
        ("lol i work nights as a {job} so mornings are my evenings", 0.72, 0.88, "fact"),
        ("my {rel} {n} passed away in {month}, it's been hard", 0.86, 0.97, "event"),
        ("we moved to {city} in {year}, still love it", 0.75, 0.9, "fact"),
    ]  # fmt: skip
    tpl, lo, hi, kind = c.rng.choice(t)
    return tpl.format(**c.slots()), lo, hi, kind


@extra_family("personal_update", True, 1.6)
def _personal_update(c: Ctx) -> Result:
    t = [
        ("Yay! My little {hobby} studio is finally open, I've dreamed of this for years!", 0.75,
         0.9, "event"),
        ("Been researching {topic} a lot lately, it's been my dream to work in that field", 0.62,
         0.8, "plan"),
        ("Big news: I got a part-time job at {wp}, I start {soon}!", 0.78, 0.92, "event"),
        ("I'm learning {lang} because we want to move to {country} in a couple of years", 0.68,
         0.84, "plan"),
        ("Last weekend my {rel} {n} and I did a {hobby} workshop, it was amazing", 0.6, 0.78,
         "event"),
        ("I've been volunteering at {wp} every {wd} since {month}", 0.68, 0.84, "fact"),
        ("Guess what, I ran my first half marathon on {date}!", 0.72, 0.88, "event"),
        ("We adopted a {pet} last week, her name is {pn} and she's a handful", 0.75, 0.9,
         "relationship"),
        ("I started a {hobby} club at work and we meet every {wd} now", 0.62, 0.8, "fact"),
        ("reading {book} at the moment, it's really helping me plan my own business", 0.55, 0.7,
         "preference"),
        ("Went to a support group for {cond} yesterday, it really helped me", 0.8, 0.93, "event"),
        ("The kids and I went camping near {city} last summer, it's our favourite trip", 0.66,
         0.82, "event"),
        ("Just finished my degree in {subject}!! Graduation is on {date}", 0.8, 0.93, "event"),
        ("It's a full-time role as a {job} at {wp}, so a big change for me", 0.75, 0.9, "fact"),
        ("My painting got into a local exhibition in {city}, I'm so proud", 0.7, 0.86, "event"),
        ("I've been thinking about becoming a counsellor, I've started looking at courses", 0.62,
         0.8, "plan"),
        ("After {k} years at {wp} I finally handed in my notice", 0.8, 0.93, "event"),
        ("My {rel} {n} got me into {music}, now I play it all the time", 0.58, 0.74,
         "preference"),
    ]  # fmt: skip
    tpl, lo, hi, kind = c.rng.choice(t)
    return tpl.format(**c.slots()), lo, hi, kind


@extra_family("supportive_reply", False, 1.5)
def _supportive(c: Ctx) -> Result:
    t = [
        "Wow, that's amazing! You'll be great at it!", "So proud of you, all that work paid off!",
        "That sounds like so much fun, glad you had a good time!", "Aww, that's so sweet",
        "Congrats on the new job, {n2}! You deserve it", "That's a great goal! Keep it up!",
        "Haha that's so cute, what a lovely idea", "Oh no, sorry to hear that. Hope it gets better",
        "Sounds like a blast! Did you take any pictures?", "Wow! What got you into that?",
        "Did you see the band play live?", "That must have been so special for you",
        "You're doing something really meaningful, good luck!", "I'm sure it'll go great",
        "That's so brave of you, {n2}", "Love that for you!", "What a great way to spend a weekend",
        "Can't wait to hear how it goes!", "Totally agree, that makes a lot of sense",
        "That sounds tough, take care of yourself", "Nice! How long did that take?",
        "Oh wow, where was that?", "That's awesome, {n2}! Tell me more",
        "Yes! Let's make it a night to remember!", "Hope you have the best time in {city}!",
    ]  # fmt: skip
    return _any(c, t), 0.02, 0.2, "other"


# ----- other languages -----------------------------------------------------------------

ML_MONTHS = {
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "octubre"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "Oktober"],
    "pt": ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "outubro"],
    "it": [
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "ottobre",
    ],
}
# (template, lo, hi, kind)
ML_POS: dict[str, list[tuple[str, float, float, str]]] = {
    "fr": [
        ("Je m'appelle {n2}.", 0.8, 0.95, "fact"),
        ("J'habite à {city} depuis {k} ans.", 0.75, 0.9, "fact"),
        ("Je suis allergique aux arachides.", 0.9, 1.0, "fact"),
        ("Ma fille {f} a {kid_age} ans.", 0.8, 0.93, "relationship"),
        ("je travaille comme infirmière à l'hôpital", 0.75, 0.9, "fact"),
        ("J'adore le jazz et les films de Ghibli", 0.6, 0.78, "preference"),
        ("On part à {dest} le {d} {mo}.", 0.7, 0.87, "plan"),
        ("en fait j'ai déménagé à {city}, pas à {city2}", 0.85, 0.95, "fact"),
        ("mon mari {m} est diabétique", 0.86, 0.97, "relationship"),
        ("j'ai un chat qui s'appelle {pn}", 0.7, 0.85, "relationship"),
        ("Mon anniversaire, c'est le {d} {mo}.", 0.8, 0.93, "fact"),
        ("je déteste la coriandre", 0.58, 0.72, "preference"),
    ],
    "es": [
        ("Me llamo {n2}.", 0.8, 0.95, "fact"),
        ("Vivo en {city} con mi novio {m}.", 0.78, 0.92, "fact"),
        ("Soy alérgica a la penicilina.", 0.9, 1.0, "fact"),
        ("mi hijo {m} cumple {kid_age} años el {d} de {mo}", 0.8, 0.94, "fact"),
        ("Trabajo de profesora en un colegio.", 0.72, 0.88, "fact"),
        ("me encanta la paella pero odio las aceitunas", 0.6, 0.78, "preference"),
        ("la semana que viene viajo a {dest}", 0.68, 0.85, "plan"),
        ("tengo diabetes tipo 1", 0.88, 1.0, "fact"),
        ("perdón, me mudé a {city}, no a {city2}", 0.85, 0.95, "fact"),
        ("mi perro se llama {pn} y tiene {k} años", 0.7, 0.86, "relationship"),
        ("mi madre {f} vive en {city}", 0.78, 0.92, "relationship"),
        ("soy vegetariana desde hace {k} años", 0.72, 0.88, "preference"),
    ],
    "de": [
        ("Ich heiße {n2}.", 0.8, 0.95, "fact"),
        ("Ich wohne in {city}.", 0.75, 0.9, "fact"),
        ("Ich bin allergisch gegen Nüsse.", 0.9, 1.0, "fact"),
        ("Meine Frau {f} ist Ärztin.", 0.8, 0.93, "relationship"),
        ("ich arbeite als Softwareentwickler bei einer Bank", 0.75, 0.9, "fact"),
        ("Ich mag keine Pilze.", 0.58, 0.72, "preference"),
        ("Am {d}. {mo} fliegen wir nach {dest}.", 0.7, 0.87, "plan"),
        ("eigentlich bin ich nach {city} gezogen, nicht nach {city2}", 0.85, 0.95, "fact"),
        ("unser Hund heißt {pn}", 0.7, 0.85, "relationship"),
        ("Ich habe Asthma.", 0.86, 0.98, "fact"),
        ("mein Sohn {m} hat am {d}. {mo} Geburtstag", 0.8, 0.94, "fact"),
        ("ich höre am liebsten Techno", 0.6, 0.76, "preference"),
    ],
    "pt": [
        ("Meu nome é {n2}.", 0.8, 0.95, "fact"),
        ("Moro em {city} com a minha esposa.", 0.78, 0.92, "fact"),
        ("sou alérgico a camarão", 0.9, 1.0, "fact"),
        ("minha filha {f} faz {kid_age} anos no dia {d} de {mo}", 0.8, 0.94, "fact"),
        ("Trabalho como enfermeira num hospital.", 0.75, 0.9, "fact"),
        ("adoro feijoada e samba", 0.6, 0.78, "preference"),
        ("vou para {dest} em {mo}", 0.68, 0.86, "plan"),
        ("na verdade me mudei para {city}, não para {city2}", 0.85, 0.95, "fact"),
        ("tenho um gato chamado {pn}", 0.7, 0.85, "relationship"),
        ("meu pai {m} tem Alzheimer", 0.86, 0.97, "relationship"),
        ("sou vegano", 0.72, 0.88, "preference"),
    ],
    "it": [
        ("Mi chiamo {n2}.", 0.8, 0.95, "fact"),
        ("Abito a {city} da {k} anni.", 0.75, 0.9, "fact"),
        ("Sono allergica ai crostacei.", 0.9, 1.0, "fact"),
        ("mio fratello {m} fa il cuoco a {city}", 0.78, 0.92, "relationship"),
        ("Lavoro come architetto.", 0.72, 0.88, "fact"),
        ("adoro la pizza napoletana ma odio il coriandolo", 0.6, 0.78, "preference"),
        ("il {d} {mo} parto per {dest}", 0.7, 0.87, "plan"),
        ("ho il diabete di tipo 2", 0.86, 0.98, "fact"),
        ("in realtà mi sono trasferito a {city}, non a {city2}", 0.85, 0.95, "fact"),
        ("il mio cane si chiama {pn}", 0.7, 0.85, "relationship"),
        ("mia moglie {f} è incinta, nasce a {mo}", 0.85, 0.96, "relationship"),
    ],
}
ML_NEG: dict[str, list[tuple[str, float, float]]] = {
    "fr": [
        ("bonjour !", 0.0, 0.05), ("merci beaucoup", 0.0, 0.05),
        ("quelle est la capitale du Canada ?", 0.02, 0.1),
        ("écris-moi un poème sur la mer", 0.02, 0.12),
        ("il fait trop chaud aujourd'hui", 0.05, 0.18), ("je mange un croissant là", 0.2, 0.38),
        ("d'accord", 0.0, 0.05), ("mdr", 0.0, 0.05),
        ("tu peux traduire 'good luck' en espagnol ?", 0.02, 0.1), ("c'est marrant", 0.02, 0.08),
        ("comment ça marche, {topic} ?", 0.02, 0.12),
    ],
    "es": [
        ("hola, ¿qué tal?", 0.0, 0.05), ("gracias!", 0.0, 0.05),
        ("¿cuántos habitantes tiene {city}?", 0.02, 0.1),
        ("escribe un chiste sobre gatos", 0.02, 0.12), ("qué frío hace hoy", 0.05, 0.18),
        ("estoy en el bus ahora", 0.2, 0.38), ("vale", 0.0, 0.05), ("jajaja", 0.0, 0.05),
        ("convierte 20 libras a kilos", 0.02, 0.1), ("qué interesante", 0.02, 0.08),
        ("¿quién escribió Don Quijote?", 0.02, 0.1),
    ],
    "de": [
        ("Hallo!", 0.0, 0.05), ("danke schön", 0.0, 0.05), ("wie spät ist es in Tokio?", 0.02, 0.1),
        ("schreib mir ein Gedicht über den Herbst", 0.02, 0.12),
        ("heute regnet es schon wieder", 0.05, 0.18), ("ich sitze gerade im Zug", 0.2, 0.38),
        ("ok, passt", 0.0, 0.05), ("haha", 0.0, 0.05), ("wie funktioniert {topic}?", 0.02, 0.12),
        ("das ist lustig", 0.02, 0.08), ("bin heute total müde", 0.2, 0.38),
    ],
    "pt": [
        ("oi, tudo bem?", 0.0, 0.05), ("obrigado!", 0.0, 0.05),
        ("qual é a capital da Austrália?", 0.02, 0.1), ("me conta uma piada", 0.02, 0.12),
        ("que calor hoje", 0.05, 0.18), ("tô almoçando agora", 0.2, 0.38), ("beleza", 0.0, 0.05),
        ("kkkkk", 0.0, 0.05), ("traduz 'thank you' para japonês", 0.02, 0.1),
        ("nossa, que legal", 0.02, 0.08),
    ],
    "it": [
        ("ciao!", 0.0, 0.05), ("grazie mille", 0.0, 0.05),
        ("chi ha dipinto la Gioconda?", 0.02, 0.1), ("scrivi una poesia sulla luna", 0.02, 0.12),
        ("oggi piove a dirotto", 0.05, 0.18), ("sto bevendo un caffè", 0.2, 0.38),
        ("va bene", 0.0, 0.05), ("che ridere", 0.02, 0.08), ("quanto fa 15 per 12?", 0.02, 0.1),
        ("buonanotte", 0.0, 0.05),
    ],
}  # fmt: skip


ML_POS_HELD: dict[str, list[tuple[str, float, float, str]]] = {
    "fr": [
        ("mon fils {m} commence l'école en septembre", 0.78, 0.9, "plan"),
        ("je suis végétarienne depuis {k} ans", 0.72, 0.88, "preference"),
        ("ma sœur {f} habite à {city}", 0.78, 0.92, "relationship"),
        ("j'ai rendez-vous chez le dentiste mardi à 14h", 0.62, 0.8, "plan"),
    ],
    "es": [
        ("me acabo de mudar a {city} por trabajo", 0.8, 0.92, "event"),
        ("soy enfermera y trabajo de noche", 0.75, 0.9, "fact"),
        ("mi marido {m} odia el cilantro", 0.6, 0.76, "relationship"),
        ("el {d} de {mo} es nuestro aniversario", 0.8, 0.93, "fact"),
    ],
    "de": [
        ("meine Tochter {f} ist {kid_age} Jahre alt", 0.8, 0.93, "relationship"),
        ("ich bin Diabetiker", 0.88, 1.0, "fact"),
        ("wir ziehen im {mo} nach {city}", 0.75, 0.9, "plan"),
        ("ich liebe Sushi, aber hasse Oliven", 0.6, 0.76, "preference"),
    ],
    "pt": [
        ("sou professora de matemática", 0.72, 0.88, "fact"),
        ("minha mãe {f} mora em {city}", 0.78, 0.92, "relationship"),
        ("casei em {mo} do ano passado", 0.8, 0.94, "event"),
        ("não como glúten, sou celíaca", 0.88, 0.98, "fact"),
    ],
    "it": [
        ("sono vegetariano da {k} anni", 0.72, 0.88, "preference"),
        ("mia figlia {f} compie {kid_age} anni il {d} {mo}", 0.8, 0.94, "fact"),
        ("lavoro come infermiera a {city}", 0.75, 0.9, "fact"),
        ("il mese prossimo mi sposo!", 0.85, 0.95, "plan"),
    ],
}
ML_NEG_HELD: dict[str, list[tuple[str, float, float]]] = {
    "fr": [
        ("bonne nuit !", 0.0, 0.05), ("c'est quoi {topic} ?", 0.02, 0.1),
        ("je suis dans le métro là", 0.2, 0.38), ("ah ok je vois", 0.0, 0.05),
    ],
    "es": [
        ("¿cómo se dice 'gato' en alemán?", 0.02, 0.1), ("muchas gracias", 0.0, 0.05),
        ("estoy aburrido", 0.2, 0.38), ("llueve muchísimo hoy", 0.05, 0.18),
    ],
    "de": [
        ("guten Morgen", 0.0, 0.05), ("erklär mir {topic}", 0.02, 0.1),
        ("ich esse gerade ein Brötchen", 0.2, 0.38), ("super, danke dir", 0.0, 0.05),
    ],
    "pt": [
        ("bom dia!", 0.0, 0.05), ("quanto é 20% de 150?", 0.02, 0.1),
        ("tô com sono hoje", 0.2, 0.38), ("valeu!", 0.0, 0.05),
    ],
    "it": [
        ("come stai?", 0.0, 0.05), ("cos'è {topic}?", 0.02, 0.1),
        ("sono in fila alla posta", 0.2, 0.38), ("che caldo oggi", 0.05, 0.18),
    ],
}  # fmt: skip


def _ml_slots(c: Ctx, lang: str) -> dict[str, object]:
    s = c.slots()
    s["d"] = c.num(1, 28)
    s["mo"] = c.pick(ML_MONTHS[lang])
    return s


@family("multilingual_pos", True, 1.8)
def _ml_pos(c: Ctx) -> Result:
    lang = c.rng.choice(sorted(ML_POS))
    t, lo, hi, kind = c.tpl(ML_POS[lang])
    return t.format(**_ml_slots(c, lang)), lo, hi, kind, lang


@family("multilingual_neg", False, 1.0)
def _ml_neg(c: Ctx) -> Result:
    lang = c.rng.choice(sorted(ML_NEG))
    t, lo, hi = c.tpl(ML_NEG[lang])
    return t.format(**_ml_slots(c, lang)), lo, hi, "other", lang


@family("multilingual_pos_held", True, 0.8, held_out=True)
def _ml_pos_held(c: Ctx) -> Result:
    lang = c.rng.choice(sorted(ML_POS_HELD))
    t, lo, hi, kind = c.rng.choice(ML_POS_HELD[lang])
    return t.format(**_ml_slots(c, lang)), lo, hi, kind, lang


@family("multilingual_neg_held", False, 0.6, held_out=True)
def _ml_neg_held(c: Ctx) -> Result:
    lang = c.rng.choice(sorted(ML_NEG_HELD))
    t, lo, hi = c.rng.choice(ML_NEG_HELD[lang])
    return t.format(**_ml_slots(c, lang)), lo, hi, "other", lang


# ----- long, multi-sentence messages built from the families above ---------------------

CHATTER = [
    "Sorry, I've been meaning to tell you this for a while.",
    "Long day at work, the printer broke twice and nobody knew how to fix it.",
    "Anyway, I was thinking about what you said yesterday.", "It's raining again here, typical.",
    "Okay so this is a bit random.", "I don't know if this matters but here goes.",
    "Honestly this week has been a blur.", "I just got back from a walk and it helped a lot.",
    "My brain is fried, bear with me.", "Not sure where to start.",
    "Coffee number three, so I'm feeling chatty.",
    "Hope you're doing well, if that's a thing for you.",
    "I keep forgetting to mention stuff, so let me just dump it here.",
    "The kids are finally asleep so I have five minutes.",
    "Writing this on the bus, sorry for typos.",
    "Weird question maybe.", "So many things going on lately.", "Let me give you some background.",
]  # fmt: skip
LONG_NEG_PARTS = [
    "Can you explain it in simpler terms this time?", "I read something about it online earlier.",
    "No rush at all.", "The last answer was a bit confusing.", "Just curious really.",
    "Keep it under 200 words if you can.", "Thanks in advance!", "It's for a pub quiz tonight.",
    "My friend and I were arguing about it.", "Bullet points would be great.",
]  # fmt: skip


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?)" else text + "."


@family("long_pos", True, 1.6)
def _long_pos(c: Ctx) -> Result:
    use_held_out = c.heldout and c.chance(0.3)
    core = [
        f
        for f in FAMILIES
        if f.keep and not f.name.startswith(("long", "multilingual")) and f.held_out == use_held_out
    ]
    fam = c.rng.choices(core, weights=[f.weight for f in core])[0]
    text, lo, hi, kind = fam.fn(c)[:4]
    parts = [c.pick(CHATTER)] * c.num(0, 1) + [_sentence(text)]
    if c.chance(0.5):
        extra = _transient(c)[0] if c.chance(0.5) else c.pick(CHATTER)
        parts.insert(c.num(0, len(parts)), _sentence(extra))
    if c.chance(0.4):
        parts.append(_sentence(c.pick(CLOSERS).strip()))
    if len(parts) == 1:
        parts.insert(0, c.pick(CHATTER))
    return " ".join(parts), lo, hi, kind


@family("long_neg", False, 1.6)
def _long_neg(c: Ctx) -> Result:
    makers = [_transient, _weather, _opinion, _request, _general_q, _my_question]
    parts, lo, hi = [], 0.0, 0.05
    for _ in range(c.num(2, 3)):
        text, plo, phi = c.rng.choice(makers)(c)[:3]
        parts.append(_sentence(text))
        lo, hi = max(lo, plo), max(hi, phi)
    if c.chance(0.5):
        parts.insert(0, c.pick(CHATTER))
    if c.chance(0.5):
        parts.append(c.pick(LONG_NEG_PARTS))
    return " ".join(parts), lo, hi, "other"


# ---------------------------------------------------------------------------------------
# Hand-written lines: (text, importance, kind[, lang]). Split by a hash of the text.
# ---------------------------------------------------------------------------------------

HAND: list[tuple] = [
    # vital / identity / health
    ("allergic to penicillin", 0.97, "fact"),
    ("my son Leo turns 5 on June 3", 0.92, "fact"),
    ("EpiPen is in my bag, left pocket. in case you ever need to tell someone", 0.93, "fact"),
    ("I'm type 1, so if I say I feel shaky it might be a hypo", 0.95, "fact"),
    ("blood type O negative", 0.85, "fact"),
    ("I'm deaf in one ear so I prefer text over voice notes", 0.86, "fact"),
    ("my husband Karim had a stroke in March and is still in rehab", 0.96, "relationship"),
    (
        "We lost the baby. I don't really want to talk about it but I wanted you to know.",
        0.95,
        "event",
    ),
    ("Mum's got early-onset Alzheimer's. She was diagnosed last autumn.", 0.95, "relationship"),
    ("no shellfish EVER. I ended up in A&E last time", 0.97, "fact"),
    ("I'm trans, my name is Jordan and I use they/them", 0.98, "fact"),
    ("pronouns: she/her", 0.9, "fact"),
    ("I have a nut allergy and so does my daughter", 0.97, "fact"),
    ("i'm 8 months sober today 🎉", 0.88, "event"),
    ("I'm on antidepressants, sertraline 100mg", 0.9, "fact"),
    ("My emergency contact is my sister Ines, 0612 345 678", 0.9, "relationship"),
    ("dad has a pacemaker, no MRIs for him", 0.9, "relationship"),
    ("Just FYI: I'm a Muslim, so no pork or alcohol in any suggestions.", 0.9, "preference"),
    ("Diagnosed with ADHD at 34. A lot makes sense now lol", 0.9, "fact"),
    ("we're expecting twins!!! due in november", 0.95, "event"),
    # relationships and people
    ("can you suggest a gift for my wife Maria, she loves gardening?", 0.82, "relationship"),
    ("my kids are Noa (7) and Eli (4)", 0.93, "relationship"),
    ("Tobi is my boyfriend, we've been together since 2019", 0.9, "relationship"),
    ("my twin brother Sami lives in Doha", 0.88, "relationship"),
    ("Grandpa Joe is 94 and still drives, terrifying", 0.8, "relationship"),
    ("my stepdaughter Lila comes every other weekend", 0.85, "relationship"),
    ("My boss is called Ms Okafor, she's strict but fair", 0.75, "relationship"),
    ("my best mate Dev is getting married in Goa in december, I'm best man", 0.88, "plan"),
    ("Keanu is my dog not my boyfriend lmao", 0.75, "relationship"),
    ("we have a cat, Professor Whiskers, 14 and grumpy", 0.8, "relationship"),
    ("my in-laws are coming to stay for the whole of August 😬", 0.72, "plan"),
    ("I broke up with Sam. so please don't suggest date ideas for us anymore", 0.88, "event"),
    # preferences
    ("I can't stand coriander, it tastes like soap to me", 0.7, "preference"),
    ("fave band: Khruangbin", 0.68, "preference"),
    ("I only eat spicy food. the hotter the better 🌶️", 0.66, "preference"),
    ("I hate when people call me Liz. It's Elizabeth.", 0.82, "preference"),
    ("please never recommend horror films, they give me nightmares for weeks", 0.72, "preference"),
    ("I prefer answers in metric, I'm in Europe", 0.62, "preference"),
    ("I don't drink coffee, only green tea", 0.62, "preference"),
    ("I'm a huge Liverpool fan. YNWA", 0.68, "preference"),
    ("Not a morning person. Don't schedule anything before 10 for me.", 0.66, "preference"),
    ("I like short replies. no essays please", 0.64, "preference"),
    ("I'm an atheist, so skip the religious stuff", 0.68, "preference"),
    ("I only read on my kindle", 0.54, "preference"),
    ("window seat, always. aisle makes me anxious", 0.56, "preference"),
    # plans and dates
    ("flight to Lima is on the 14th, 6:40am, from Gatwick", 0.85, "plan"),
    ("Wedding is 21 Sept 2027 in Porto!!", 0.93, "plan"),
    ("job interview at Spotify on thursday, wish me luck", 0.8, "plan"),
    ("Surgery scheduled for Feb 2. Gallbladder.", 0.92, "plan"),
    ("I'm moving out of my flat at the end of the month", 0.8, "plan"),
    ("my citizenship test is on the 9th of may", 0.85, "plan"),
    ("we're going to try IVF again in the spring", 0.88, "plan"),
    ("I start chemo next Monday", 0.96, "plan"),
    ("Our lease ends 31 July, need to find a new place before then", 0.82, "plan"),
    ("Book club is the first Tuesday of every month, I host in June", 0.66, "plan"),
    # corrections
    ("actually I moved to Berlin, not Munich", 0.92, "fact"),
    ("oops, my daughter is 6, not 9", 0.9, "fact"),
    ("correction: it's Dr. Patel, not Dr. Shah, who does my check-ups", 0.8, "fact"),
    ("no, I'm not allergic to nuts, that's my brother. I'm allergic to eggs", 0.96, "fact"),
    ("I told you I'm a teacher but I quit in May, I'm a tutor now", 0.88, "fact"),
    ("forget the Rome trip, we're going to Athens instead", 0.84, "plan"),
    # events
    ("got the job!!! starting at the museum in two weeks", 0.88, "event"),
    ("I finally passed my driving test today, 4th attempt", 0.78, "event"),
    ("my grandmother passed away this morning", 0.95, "event"),
    ("Graduated with a first! Physics, Edinburgh.", 0.88, "event"),
    ("We moved into the new house in Kadıköy last weekend", 0.88, "event"),  # noqa: RUF001
    ("I was laid off on friday. 9 years at that company.", 0.9, "event"),
    ("my mum remarried last year, her husband is called Pedro", 0.86, "relationship"),
    # work / facts
    ("I'm a night-shift ICU nurse in Leeds", 0.88, "fact"),
    ("I run a small bakery in Ghent with my brother", 0.88, "fact"),
    ("I own a bike repair shop", 0.82, "fact"),
    ("I'm 42, divorced, two teenagers, live in Wellington", 0.92, "summary"),
    (
        "context: I'm a 3rd year med student in Lyon, I have celiac disease and a cat, Tartine",
        0.93,
        "summary",
    ),
    (
        "My husband and I both work from home, he's an accountant and I'm a translator.",
        0.88,
        "fact",
    ),
    ("I'm a stay at home dad", 0.82, "fact"),
    ("I don't have a car, I bike everywhere", 0.6, "fact"),
    ("I don't have any pets, I'm allergic to fur", 0.88, "fact"),
    ("We don't have kids", 0.72, "fact"),
    ("i live alone", 0.7, "fact"),
    ("I'm retired. Used to be a ship engineer.", 0.82, "fact"),
    ("I work in Frankfurt but live across the border in Mainz", 0.84, "fact"),
    ("I'm a wheelchair user so please check accessibility when you suggest places", 0.95, "fact"),
    ("Hebrew is my first language, English second", 0.7, "fact"),
    ("ive got 3 cats and a very patient husband", 0.82, "relationship"),
    ("my therapist says I should journal more, so here I am", 0.55, "fact"),
    ("i usually cycle to work unless it's raining", 0.55, "preference"),
    ("I'm trying to save for a trip to Japan next year", 0.7, "plan"),
    ("I keep a sourdough starter called Doughy McDoughface", 0.55, "fact"),
    ("my cousin's wedding is in Lagos in December, we're all flying out", 0.8, "plan"),
    ("I get migraines when I don't sleep enough", 0.8, "fact"),
    ("lost 12kg since january 💪", 0.66, "event"),
    ("Ramadan starts next week so I'll be fasting", 0.72, "plan"),
    ("I'm a Capricorn if that matters lol", 0.5, "fact"),
    ("I use a screen reader", 0.9, "fact"),
    # multilingual hand-written positives
    ("ma grand-mère est décédée hier", 0.95, "event", "fr"),
    ("je suis enceinte de 3 mois 🥰", 0.95, "fact", "fr"),
    ("mi abuela cumple 90 años el sábado", 0.86, "fact", "es"),
    ("no como carne de cerdo", 0.75, "preference", "es"),
    ("Ich bin Vegetarierin und trinke keinen Alkohol.", 0.8, "preference", "de"),
    ("Nächste Woche habe ich eine OP am Knie.", 0.88, "plan", "de"),
    ("o meu filho tem autismo", 0.93, "relationship", "pt"),
    ("Domani ho il colloquio di lavoro alle 10", 0.78, "plan", "it"),
    ("ik woon in Utrecht met mijn vriendin", 0.85, "fact", "nl"),
    ("jestem uczulona na orzechy", 0.96, "fact", "pl"),
    (
        "So my mum called today, which was nice, but she told me dad's cancer is back. They're "
        "starting radiotherapy at St James's on the 12th. I don't really know what I'm asking, "
        "I just needed to say it somewhere.",
        0.96,
        "relationship",
    ),
    (
        "Right, planning mode. We fly to Hanoi on 2 March, then the train to Hue on the 6th, and "
        "we're back home on the 19th. My partner Linh wants to see her grandparents in Da Nang "
        "too, so build in two days for that.",
        0.9,
        "plan",
    ),
    (
        "I've been thinking about our chat on careers. For what it's worth: I've been an "
        "accountant for twelve years, I hate it, and I'm slowly retraining as a carpenter on "
        "weekends.",
        0.88,
        "fact",
    ),
    (
        "Can you explain how mortgages work in general? Like fixed versus variable, what an "
        "LTV is, and why everyone says to overpay. Keep it simple, I'm not a finance person.",
        0.08,
        "other",
    ),
    (
        "lol ok so today was chaos, the dishwasher flooded, the cat threw up on the rug and "
        "I missed my bus. anyway. what's a good podcast for a long walk?",
        0.22,
        "other",
    ),
    (
        "Could you write a short toast for a retirement party? It's for a colleague I barely "
        "know, so keep it generic and warm, maybe one light joke about golf.",
        0.08,
        "other",
    ),
    # negatives: small talk, filler, requests
    ("what's my best option for lunch?", 0.08, "other"),
    ("I'm eating a sandwich right now", 0.25, "other"),
    ("ok", 0.0, "other"),
    ("lol", 0.01, "other"),
    ("hmm", 0.01, "other"),
    ("that's funny", 0.04, "other"),
    ("Thanks so much, you've been really helpful today!", 0.04, "other"),
    ("hello? anyone there?", 0.02, "other"),
    ("Can you convert 3 cups of flour to grams?", 0.05, "other"),
    ("write me a poem about a frog who loves jazz", 0.04, "other"),
    ("Why does my code throw IndexError: list index out of range", 0.06, "other"),
    ("what's 2+2", 0.01, "other"),
    ("how many ounces in a pound", 0.03, "other"),
    ("Is it going to rain in Paris tomorrow?", 0.06, "other"),
    ("ugh mondays", 0.08, "other"),
    ("that's not right, try again", 0.03, "other"),
    ("you're hilarious", 0.03, "other"),
    ("tell me something interesting", 0.02, "other"),
    ("haha ok fair", 0.01, "other"),
    ("Good night!", 0.01, "other"),
    ("What's the difference between affect and effect?", 0.04, "other"),
    ("can u make it rhyme", 0.02, "other"),
    ("Could you please summarise the main causes of the First World War?", 0.05, "other"),
    ("shorter pls", 0.01, "other"),
    ("hmm let me think", 0.02, "other"),
    ("I'm just testing you", 0.05, "other"),
    ("yeah no that's fair", 0.01, "other"),
    ("ok but why", 0.02, "other"),
    ("what's the best laptop under 1000 dollars?", 0.08, "other"),
    ("my bad", 0.02, "other"),
    ("i'm so full rn", 0.22, "other"),
    ("first coffee of the day ☕", 0.2, "other"),
    ("just got back from the gym, dead", 0.3, "other"),
    ("I had a nap, feel better now", 0.22, "other"),
    ("sitting on the balcony, it's nice out", 0.2, "other"),
    ("the cat just knocked my glass over lol", 0.3, "other"),
    ("my flight today got delayed an hour", 0.3, "other"),
    ("I'm kinda hungover", 0.25, "other"),
    ("my toddler is screaming, one sec", 0.3, "other"),
    ("watching the rain", 0.12, "other"),
    ("I think I'll have pizza tonight", 0.25, "other"),
    ("bought new socks today. exciting life I lead", 0.2, "other"),
    ("my internet was down all morning", 0.22, "other"),
    ("someone at work microwaved fish again", 0.2, "other"),
    ("I'm in the queue at the post office", 0.2, "other"),
    ("Pretend you are a pirate and greet me", 0.02, "other"),
    ("who would win, a bear or a gorilla", 0.02, "other"),
    ("Is it rude to not tip in Japan?", 0.06, "other"),
    ("How do I say 'my wife is pregnant' in Italian?", 0.12, "other"),
    ("what does 'my two cents' mean", 0.03, "other"),
    ("my screen is too bright, how do I dim it", 0.06, "other"),
    ("what's my IP address", 0.04, "other"),
    ("what should I watch tonight?", 0.08, "other"),
    ("suggest a quick dinner", 0.06, "other"),
    ("can you remind me what we were talking about?", 0.03, "other"),
    ("oh nice, I didn't know that about octopuses", 0.04, "other"),
    ("ok cool cool cool", 0.01, "other"),
    ("....", 0.0, "other"),
    ("k thx bye", 0.01, "other"),
    ("lmaooo 💀", 0.01, "other"),
    ("😂😂😂", 0.0, "other"),
    ("wow", 0.01, "other"),
    ("yes, go ahead", 0.02, "other"),
    ("no, the other one", 0.02, "other"),
    ("ARE YOU EVEN LISTENING", 0.03, "other"),
    ("whats the time", 0.02, "other"),
    ("Please explain the offside rule.", 0.04, "other"),
    ("what's a good synonym for 'nice'?", 0.02, "other"),
    ("The meeting ran long today, as usual.", 0.2, "other"),
    ("Traffic on the A4 is awful this morning", 0.15, "other"),
    ("I might go for a walk later", 0.2, "other"),
    ("maybe I'll learn to code one day", 0.3, "other"),
    ("it's my turn to cook tonight", 0.28, "other"),
    ("salut ça va ?", 0.01, "other", "fr"),
    ("merci, c'est parfait", 0.02, "other", "fr"),
    ("¿me recomiendas una serie?", 0.05, "other", "es"),
    ("buenas noches!", 0.01, "other", "es"),
    ("Kannst du das kürzer machen?", 0.02, "other", "de"),
    ("wie wird das Wetter morgen?", 0.05, "other", "de"),
    ("obrigada, ajudou muito", 0.02, "other", "pt"),
    ("estou no trânsito agora", 0.22, "other", "pt"),
    ("perfetto, grazie", 0.02, "other", "it"),
    ("dank je wel!", 0.01, "other", "nl"),
]


# ---------------------------------------------------------------------------------------
# Noise and assembly
# ---------------------------------------------------------------------------------------

KEYBOARD_NEIGHBOURS = {
    "a": "qs", "e": "wr", "i": "uo", "o": "ip", "u": "yi", "s": "ad", "t": "ry", "n": "bm",
    "r": "et", "l": "k", "m": "n", "h": "gj",
}  # fmt: skip
WORD_RE = re.compile(r"[A-Za-z]{4,}")


def typo(rng: random.Random, text: str) -> str:
    words = list(WORD_RE.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    i = rng.randrange(1, len(w) - 1)
    op = rng.randrange(4)
    if op == 0:
        w2 = w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    elif op == 1:
        w2 = w[:i] + w[i + 1 :]
    elif op == 2:
        w2 = w[:i] + w[i] + w[i:]
    else:
        near = KEYBOARD_NEIGHBOURS.get(w[i].lower())
        w2 = w[:i] + rng.choice(near) + w[i + 1 :] if near else w[:i] + w[i + 1 :]
    return text[: m.start()] + w2 + text[m.end() :]


SLANG = [
    (r"\bI'm\b", "im"), (r"\byou\b", "u"), (r"\bdon't\b", "dont"), (r"\bcan't\b", "cant"),
    (r"\bplease\b", "pls"), (r"\bbecause\b", "bc"), (r"\bright now\b", "rn"), (r"\bI've\b", "ive"),
]  # fmt: skip


def add_noise(c: Ctx, text: str, keep: bool, lang: str) -> str:
    r = c.rng
    short = len(text.split()) <= 2
    if lang == "en" and not short:
        if keep and c.chance(0.1):
            text = c.pick(OPENERS) + text
        elif keep and c.chance(0.12):
            text = c.pick(POS_PREFIX) + text[0].lower() + text[1:]
        elif not keep and c.chance(0.06):
            text = c.pick(NEG_PREFIX) + text
        if keep and c.chance(0.06):
            text = text.rstrip(".") + "." + c.pick(CLOSERS)
        if c.chance(0.08):
            for pat, rep in SLANG:
                text = re.sub(pat, rep, text, flags=re.IGNORECASE)
    if c.chance(0.25):
        text = text.lower()
    elif c.chance(0.3) and text[:1].islower():
        text = text[0].upper() + text[1:]
    if c.chance(0.25):
        text = text.rstrip(".!")
    elif c.chance(0.1) and text[-1:].isalnum():
        text += r.choice([".", "!", "!!", "...", "?"]) if not keep else r.choice([".", "!", "!!"])
    if not short and c.chance(0.13):
        text = typo(r, text)
    if c.chance(0.07):
        text += " " + c.pick(EMOJI)
    if c.chance(0.015):
        text = text.upper()
    if c.chance(0.03):
        text = text.replace(" ", "  ", 1)
    return text.strip()


def norm_key(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def record(text: str, importance: float, kind: str) -> dict[str, object]:
    importance = round(min(1.0, max(0.0, importance)), 2)
    assert kind in KINDS, kind
    return {"text": text, "importance": importance, "keep": int(importance >= 0.5), "kind": kind}


def hand_split(text: str) -> str:
    h = zlib.crc32(text.encode()) % 10
    return "valid" if h == 0 else "test" if h == 1 else "train"


def generate_split(
    split: str, size: int, rng: random.Random, seen: set[str], langs: Counter
) -> list[dict[str, object]]:
    c = Ctx(rng, split)
    rows: list[dict[str, object]] = []
    n_keep = 0
    target_keep = round(size * KEEP_FRACTION)

    for entry in HAND:
        text, imp, kind = entry[:3]
        if hand_split(text) != split or norm_key(text) in seen:
            continue
        seen.add(norm_key(text))
        rows.append(record(text, imp, kind))
        langs[entry[3] if len(entry) > 3 else "en"] += 1
        n_keep += imp >= 0.5

    pos = [f for f in FAMILIES if f.keep]
    neg = [f for f in FAMILIES if not f.keep]
    attempts = 0
    while len(rows) < size:
        attempts += 1
        if attempts > size * 200:
            raise RuntimeError(f"could not fill {split}: {len(rows)}/{size}")
        remaining_keep = target_keep - n_keep
        remaining = size - len(rows)
        want_keep = (
            c.chance(remaining_keep / remaining)
            if 0 < remaining_keep < remaining
            else (remaining_keep > 0)
        )
        pool = pos if want_keep else neg
        if split == "train":
            pool = [f for f in pool if not f.held_out]
        elif c.chance(HELD_OUT_FAMILY_SHARE):
            pool = [f for f in pool if f.held_out]
        fam = rng.choices(pool, weights=[f.weight for f in pool])[0]
        out = fam.fn(c)
        text, lo, hi, kind = out[:4]
        lang = out[4] if len(out) > 4 else "en"
        text = add_noise(c, text, fam.keep, lang)
        key = norm_key(text)
        if not key and text not in EMOJI and text not in FILLER:
            continue
        key = key or text
        if key in seen:
            continue
        seen.add(key)
        importance = rng.uniform(lo, hi)
        rows.append(record(text, importance, kind))
        langs[lang] += 1
        n_keep += importance >= 0.5
    rng.shuffle(rows)
    return rows


def generate_extra(
    size: int, rng: random.Random, seen: set[str], langs: Counter
) -> list[dict[str, object]]:
    c = Ctx(rng, "train")
    pos = [f for f in EXTRA_FAMILIES if f.keep]
    neg = [f for f in EXTRA_FAMILIES if not f.keep]
    rows: list[dict[str, object]] = []
    attempts = 0
    while len(rows) < size:
        attempts += 1
        if attempts > size * 200:
            raise RuntimeError(f"could not fill the train supplement: {len(rows)}/{size}")
        keep = len(rows) % 2 == 0  # half and half, like the splits
        pool = pos if keep else neg
        fam = rng.choices(pool, weights=[f.weight for f in pool])[0]
        out = fam.fn(c)
        text, lo, hi, kind = out[:4]
        lang = out[4] if len(out) > 4 else "en"
        text = add_noise(c, text, fam.keep, lang)
        key = norm_key(text)
        if not key or key in seen:
            continue
        seen.add(key)
        rows.append(record(text, rng.uniform(lo, hi), kind))
        langs[lang] += 1
    return rows


# ----- replies in context --------------------------------------------------------------
# A reply often leaves its subject to the message it answers: "Nurse, at St Mary's" is a
# job only after "What do you do?", and "yes please" is nothing after "Shall I shorten
# it?". These rows carry that message as "context" ("assistant: ..." or "Name: ..."), in
# train and in their own held-out test file (test_context.jsonl); valid and test are
# unchanged. Importance is what the reply itself adds, read with its context: a thank-you
# for a fact the other side already knew adds nothing.

CONTEXT_FAMILIES: list[Family] = []
TRAIN_CONTEXT = 1200
TEST_CONTEXT = 240
INSTRUMENTS = ["guitar", "piano", "violin", "drums", "cello", "ukulele", "flute", "bass"]


def context_family(name: str, keep: bool, weight: float = 1.0):
    def deco(fn: Callable[[Ctx], Result]) -> Callable[[Ctx], Result]:
        CONTEXT_FAMILIES.append(Family(name, keep, weight, False, fn))
        return fn

    return deco


def _who(c: Ctx) -> str:
    return "assistant" if c.chance(0.55) else c.name()


def _exchange(c: Ctx, pairs: list[tuple[list[str], list[str]]]) -> tuple[str, str]:
    """One (question, answer) from a topic's templates, filled from one set of slots."""
    questions, answers = c.rng.choice(pairs)
    s = c.slots() | {"instrument": c.pick(INSTRUMENTS)}
    return c.tpl(questions).format(**s), c.tpl(answers).format(**s)


@context_family("answer_about_self", True, 2.2)
def _answer_about_self(c: Ctx) -> Result:
    pairs = [
        (["What do you do for work?", "So what's your job these days?", "What do you do?",
          "Are you still working at the same place?"],
         ["{job}, at {wp}", "I'm a {job}", "still a {job}, at {wp} now", "Mostly {job} stuff",
          "{job}. Been doing it since {year}", "Nurse on the night shift, three years now"]),
        (["Where do you live now?", "Where are you based these days?", "Where did you move?",
          "Where are you from originally?"],
         ["{city}", "In {city}, since {year}", "{city}, right by the river",
          "Moved to {city} last month", "Originally {country}, now {city}"]),
        (["Any allergies I should know about?", "Is there anything you can't eat?",
          "Do you have any dietary restrictions?"],
         ["{a}", "yes, {a}. pretty bad", "Just {a}", "{a}, I carry an epipen",
          "no meat, I've been vegetarian since {year}"]),
        (["Do you have any pets?", "Who's the furball in the photo?", "Is that your dog?"],
         ["A {pet} named {pn}", "Yep, {pn}! Got him in {year}", "that's {pn}, my {pet}",
          "two cats, {pn} and Miso"]),
        (["When's your {rel}'s birthday?", "When is {n}'s birthday again?"],
         ["{date}", "It's on {date}", "the {date}, I always forget", "{date}, turning {age}"]),
        (["What are you studying?", "What did you end up studying?", "What's your degree in?"],
         ["{subject} at {uni}", "{subject}", "Doing a masters in {subject}",
          "{subject}, second year"]),
        (["What instrument do you play?", "Do you play anything?", "What do you do to relax?"],
         ["The {instrument}, since I was a kid", "{instrument} mostly",
          "{hobby} and the {instrument}", "I play {instrument} in a small band"]),
        (["What did you research?", "What have you been looking into?",
          "What are you working on these days?"],
         ["Adoption agencies. It's been a dream to have a family", "Courses in {subject}",
          "Flats in {city}, we want to move in {month}", "My {project}, due {soon}"]),
        (["Who's {n}?", "Is {n} your friend from work?", "How do you know {n}?"],
         ["my {rel}", "{rel}. We've been close since {year}", "My {rel}, lives in {city}",
          "we met at {uni}, best friends since"]),
        (["Where are you going on holiday?", "Any trips coming up?", "What are your summer plans?"],
         ["{dest} in {month}", "Camping with the kids in {month}", "{dest}, flying out {soon}",
          "Visiting my {rel} in {city} in {season}"]),
        (["How old are your kids?", "How many kids do you have?"],
         ["{kid_age} and {k}", "Three: {kid_age}, 9 and 12", "just one, she's {kid_age}"]),
        (["What's your favourite food?", "What kind of music do you like?",
          "What are you into lately?"],
         ["{food}, easily", "{music}, always", "{hobby}. Every weekend", "{media}, I love it"]),
        (["When is the appointment?", "When do you see the doctor?", "When's the interview?"],
         ["{soon} at {time}", "{date}, {time}", "{soon}, with Dr {m}"]),
        (["Did you get the job?", "How did the interview go?", "Any news about the new role?"],
         ["Yes! I start at {wp} {soon}", "I got it, starting {soon} as a {job}",
          "didn't get it, staying at {wp} for now"]),
        (["Are you still seeing {n}?", "How's {n}?", "Are you and {n} still together?"],
         ["We broke up in {month}", "Yes, we're engaged now!", "we moved in together in {month}",
          "we got married in {year}"]),
        (["¿Dónde vives ahora?", "¿Dónde vivís ahora?"], ["En {city}, desde {year}", "en {city}"]),
        (["¿A qué te dedicas?", "¿En qué trabajas?"], ["Soy {job}", "{job}, desde {year}"]),
        (["Tu habites où maintenant ?", "Tu vis où ?"], ["À {city}, depuis {year}", "à {city}"]),
        (["Wo wohnst du jetzt?", "Wo lebst du?"], ["In {city}, seit {year}", "in {city}"]),
        (["Hast du Allergien?", "Verträgst du alles?"], ["Ja, gegen {a}", "ja, {a}"]),
    ]  # fmt: skip
    question, answer = _exchange(c, pairs)
    return f"{_who(c)}: {question}", answer, 0.62, 0.92, c.rng.choice(["fact", "fact", "event"])


@context_family("confirm_about_self", True, 1.3)
def _confirm_about_self(c: Ctx) -> Result:
    pairs = [
        (["Wait, you moved to {city}?", "So you live in {city} now?"],
         ["Yep, last month!", "yes, since {month}", "Yeah, finally. Loving it so far"]),
        (["Are you still vegetarian?", "So you're off gluten now?"],
         ["yes, since {year}", "Still am, going strong", "no, I eat fish again now"]),
        (["Is {n} your {rel}?", "{n} is your {rel}, right?"],
         ["Yes, my {rel}", "yep, my older {rel}", "no, my cousin actually"]),
        (["You're a {job}, right?", "Didn't you say you work at {wp}?"],
         ["yes, for {k} years now", "Not anymore, I switched to {job2}", "Right, since {year}"]),
        (["Did you end up adopting the {pet}?", "Did you get the {pet} in the end?"],
         ["Yes! We named him {pn}", "we did, {pn} is a menace", "Yep, she's called {pn}"]),
        (["Wasn't the wedding in {month}?", "Is the trip still on for {month}?"],
         ["No, we moved it to {month2}", "yes, {date} still", "pushed to {season}, sadly"]),
        (["So you're allergic to {a}?", "You can't have {a}, right?"],
         ["Yes, badly. Even traces", "yep, since I was a kid", "right, I carry an epipen"]),
    ]  # fmt: skip
    questions, answers = c.rng.choice(pairs)
    s = c.slots() | {"job2": c.pick(JOBS), "month2": c.pick(MONTHS)}
    question, answer = c.tpl(questions).format(**s), c.tpl(answers).format(**s)
    return f"{_who(c)}: {question}", answer, 0.58, 0.88, c.rng.choice(["fact", "event"])


@context_family("correct_the_other", True, 0.8)
def _correct_the_other(c: Ctx) -> Result:
    pairs = [
        (["Noted: your appointment is {soon}.", "So the dentist is {soon}?"],
         ["no, it's {date}", "{date} actually", "no, moved to {date}"]),
        (["Got it, your {rel} {n} lives in {city}.", "{n} is in {city}, right?"],
         ["not {city}, {city2}", "she moved to {city2} in {month}", "{city2} now"]),
        (["Okay, so the trip to {dest} is in {month}.", "The trip is in {month}, right?"],
         ["{month2}, not {month}", "no, we pushed it to {month2}"]),
        (["I'll remember you work at {wp}.", "How's work at {wp}?"],
         ["actually I left {wp} last month", "I'm at a new place now, I quit in {month}"]),
    ]  # fmt: skip
    questions, answers = c.rng.choice(pairs)
    s = c.slots() | {"month2": c.pick(MONTHS)}
    question, answer = c.tpl(questions).format(**s), c.tpl(answers).format(**s)
    return f"assistant: {question}", answer, 0.7, 0.92, "fact"


@context_family("answer_to_offer", False, 1.8)
def _answer_to_offer(c: Ctx) -> Result:
    pairs = [
        (["Want me to make it shorter?", "Should I add more examples?",
          "Do you want the recipe in metric?", "Shall I turn this into a table?",
          "Would you like a summary too?", "Should I keep going?"],
         ["yes please", "sure", "no, that's fine", "yeah, do it", "nah", "yes, shorter",
          "please do", "no thanks", "ok", "go on", "sí, por favor", "oui merci"]),
        (["Formal or casual?", "PDF or Word?", "Which title do you like better, A or B?",
          "Bullet points or a paragraph?", "Do you want it in English or {lang}?"],
         ["casual", "PDF", "the second one", "bullets", "English is fine", "B I think",
          "whatever works", "paragraph"]),
        (["How many words should it be?", "How long should the workout be?",
          "What tone should the email have?"],
         ["about 200", "30 minutes", "friendly but firm", "short", "{k} paragraphs"]),
        (["Did that answer your question?", "Does this work for you?", "Is that what you meant?"],
         ["yes, thanks", "kind of", "perfect", "not really, try again", "yep", "almost"]),
    ]  # fmt: skip
    question, answer = _exchange(c, pairs)
    return f"assistant: {question}", answer, 0.02, 0.15, "other"


@context_family("reaction", False, 2.0)
def _reaction(c: Ctx) -> Result:
    said = c.tpl([
        "Octopuses have three hearts.", "Here's a recipe for {food}: ...",
        "The Eiffel Tower grows about 15 cm in summer.", "Here are five ideas for the weekend.",
        "I just finished a painting of a lake at sunrise!", "We went to {dest} last week!",
        "My {rel} got a new {pet}!", "I ran a 10k on Saturday.",
        "Here's your email, ready to send.",
        "Done! I fixed the bug in your regex.", "I've been learning the {instrument}.",
        "Congrats on the new job at {wp}!", "Happy birthday!", "Good luck with the interview!",
    ]).format(**(c.slots() | {"instrument": c.pick(INSTRUMENTS)}))  # fmt: skip
    answer = c.tpl([
        "wow, cool", "haha nice", "thanks, that helps", "interesting!", "makes sense",
        "Wow, that's beautiful! Love the colors.", "That's awesome, so proud of you!",
        "omg amazing", "Yeah, awesome! Glad to hear it.", "thank you!!", "lol", "no way!",
        "That sounds like so much fun!", "You're doing great, keep it up!", "love that",
        "Thanks so much, that means a lot!", "ahh thank you", "great, thanks",
        "que bien!", "super, merci", "toll!",
    ])  # fmt: skip
    return f"{_who(c)}: {said}", answer, 0.03, 0.3, "other"


@context_family("follow_up_question", False, 1.2)
def _follow_up_question(c: Ctx) -> Result:
    said = c.tpl([
        "I went to a support group yesterday.", "We're thinking about going camping.",
        "I started {hobby} last month.", "My {rel} is visiting next week.",
        "Here's a list of places to visit in {city}.", "You could try {hobby}.",
    ]).format(**c.slots())  # fmt: skip
    answer = c.tpl([
        "What made you choose that?", "how was it?", "what do you mean?", "Why?",
        "Which one would you pick?", "How long does it take?", "Where is that?",
        "can you say more?", "What happened?", "Did you enjoy it?",
    ])  # fmt: skip
    return f"{_who(c)}: {said}", answer, 0.02, 0.2, "other"


@context_family("fact_with_idle_context", True, 1.0)
def _fact_with_idle_context(c: Ctx) -> Result:
    said = c.tpl([
        "How was your weekend?", "What's new?", "Anything else I can help with?",
        "Hey! Long time no see.", "How are you doing today?", "Good morning!",
    ])  # fmt: skip
    answer = c.fill([
        "Great! My {rel} {n} got engaged", "Busy, I start at {wp} {soon}",
        "Yes: remind me I'm allergic to {a} when I ask for recipes",
        "Not bad. We adopted a {pet} called {pn}", "Tired, the baby is due in {month}",
        "Good! Moved to {city} finally",
    ])  # fmt: skip
    return f"{_who(c)}: {said}", answer, 0.65, 0.95, c.rng.choice(["event", "fact"])


@context_family("idle_with_fact_context", False, 1.0)
def _idle_with_fact_context(c: Ctx) -> Result:
    said = c.fill([
        "I'll remember that your {rel} {n} lives in {city}.", "Noted: you're allergic to {a}.",
        "Congrats on moving to {city}!", "So your interview at {wp} is {soon}, good luck!",
        "I know you love {food}, so here's a recipe.",
    ])  # fmt: skip
    answer = c.tpl([
        "thanks!", "ok", "cool, thanks", "yep", "sounds good", "great", "perfect, thank you",
        "haha yes", "ok bye", "merci", "gracias!",
    ])  # fmt: skip
    return f"assistant: {said}", answer, 0.02, 0.2, "other"


REPLY_OPENERS = [
    "Wow, that's great!",
    "Thanks, {addressee}!",
    "Aww, thank you!",
    "That's awesome, {addressee}!",
    "Haha, love it.",
    "Congrats!",
    "Thanks so much, your support means a lot.",
    "Oh nice!",
    "Hey {addressee}! Long time no talk!",
    "That sounds amazing.",
    "Totally agree.",
    "Thanks! It was tough, but I'm ok.",
    "So cool!",
    "Ahh, that's lovely.",
    "Oh wow.",
]
NEWS = [
    "Yesterday I took the kids to the {place}, they loved it.",
    "We went {hobby} last weekend and it was so much fun.",
    "I started {hobby} in {month}, it really helps me relax.",
    "My {rel} and I are going to {dest} in {month}.",
    "I finally finished my {project}.",
    "I got a new {pet}, her name is {pn}!",
    "I went hiking last week and twisted my ankle pretty badly.",
    "I gave a talk at {wp} on Friday about my own journey.",
    "I've been volunteering at the shelter every Saturday.",
    "My {rel} {n} just moved to {city}.",
    "We adopted a {pet} called {pn} last month.",
    "I signed up for a {hobby} class that starts {soon}.",
    "I painted this for the art show in {month}.",
    "I just got back from {dest}.",
    "I'm reading {book} for my book club.",
    "I've been playing the {instrument} again.",
    "The kids and I made pottery together last weekend.",
    "I quit my job at {wp} in {month}.",
]
PLACES = ["museum", "beach", "zoo", "aquarium", "science centre", "park", "farm", "lake"]
CHAT_REPLIES = [
    "What made you choose that?",
    "How did it go?",
    "What was the best part?",
    "Did the kids enjoy it?",
    "How long have you been doing that?",
    "What's it about?",
    "Self-care is so important.",
    "It's great to have friends who support you.",
    "Keep it up!",
    "You should be really proud.",
    "Those moments are the best.",
    "Family is everything.",
    "I'm always here for you.",
    "Take care of yourself!",
]


def _reply_slots(c: Ctx, *extra: str) -> dict[str, object]:
    """The usual slots, someone to address, and the `extra` pools, drawn in that order."""
    pools = {"instrument": INSTRUMENTS, "place": PLACES, "happening": HAPPENINGS}
    return c.slots() | {"addressee": c.name()} | {name: c.pick(pools[name]) for name in extra}


@context_family("reaction_then_news", True, 2.4)
def _reaction_then_news(c: Ctx) -> Result:
    s = _reply_slots(c, "instrument", "place")
    said = c.tpl([
        "I just finished a painting!", "We had the best weekend.", "How have you been?",
        "Congrats on the new job!", "Here's the recipe you asked for.", "What's new with you?",
    ])  # fmt: skip
    news = c.tpl(NEWS).format(**s)
    text = f"{c.tpl(REPLY_OPENERS).format(**s)} {news}" if c.chance(0.85) else news
    if c.chance(0.3):
        text += " " + c.tpl(CHAT_REPLIES[:6])
    return f"{_who(c)}: {said}", text, 0.6, 0.9, c.rng.choice(["event", "event", "fact"])


@context_family("reaction_then_chat", False, 2.4)
def _reaction_then_chat(c: Ctx) -> Result:
    s = _reply_slots(c, "instrument", "place")
    said = c.tpl(NEWS).format(**s).replace("I ", "I ", 1)
    text = f"{c.tpl(REPLY_OPENERS).format(**s)} {c.tpl(CHAT_REPLIES)}"
    if c.chance(0.3):
        text += " " + c.tpl(CHAT_REPLIES)
    return f"{c.name()}: {said}", text, 0.03, 0.3, "other"


EXPERIENCES = [
    "The {happening} was awesome! It was so encouraging to be around people like that.",
    "The {happening} was so powerful, hearing everyone's stories gave me courage.",
    "We went to the {place} on Sunday and the kids couldn't stop talking about it.",
    "I bought a little {thing} yesterday, it reminds me of my grandma.",
    "Honestly the {happening} was tough, but finishing it felt amazing.",
    "Our trip to {dest} was magical, we hiked every single day.",
    "I went to my first {happening} last week and I was so nervous, but it went great.",
    "The {happening} on Saturday was so much fun, everyone was dancing.",
    "It was my {rel}'s {happening} and the whole family came, I was so happy.",
    "I tried {hobby} for the first time at the {place}, I'm hooked.",
    "Getting my certificate in {subject} last month felt like a dream.",
    "I cried at the {happening}, it meant a lot to finally be there.",
    "Painting the mural with the kids was the best part of my week.",
    "I spoke at the {happening} about my own story, and people came up to thank me.",
]
HAPPENINGS = [
    "support group",
    "charity run",
    "pride parade",
    "poetry reading",
    "concert",
    "workshop",
    "art show",
    "wedding",
    "graduation",
    "open mic",
    "camping trip",
    "book club meeting",
    "conference",
    "half marathon",
    "school play",
    "volunteer day",
]


@context_family("experience_report", True, 2.6)
def _experience_report(c: Ctx) -> Result:
    s = _reply_slots(c, "place", "happening")
    said = c.tpl([
        "How was it?", "What happened?", "Tell me about your weekend!", "How did it go?",
        "You seem happy today!", "Did you do anything fun lately?", "How have you been?",
    ])  # fmt: skip
    text = c.tpl(EXPERIENCES).format(**s)
    if c.chance(0.4):
        text = f"{c.tpl(REPLY_OPENERS).format(**s)} {text}"
    return f"{_who(c)}: {said}", text, 0.55, 0.85, "event"


def generate_context(
    split: str, size: int, rng: random.Random, seen: set[str], langs: Counter
) -> list[dict[str, object]]:
    c = Ctx(rng, split)
    pos = [f for f in CONTEXT_FAMILIES if f.keep]
    neg = [f for f in CONTEXT_FAMILIES if not f.keep]
    rows: list[dict[str, object]] = []
    attempts = 0
    while len(rows) < size:
        attempts += 1
        if attempts > size * 200:
            raise RuntimeError(f"could not fill the {split} context rows: {len(rows)}/{size}")
        pool = pos if len(rows) % 2 == 0 else neg
        fam = rng.choices(pool, weights=[f.weight for f in pool])[0]
        context, text, lo, hi, kind = fam.fn(c)
        lang = "en" if context.isascii() and text.isascii() else "other"
        text = add_noise(c, text, fam.keep, lang)
        key = norm_key(f"{context} || {text}")
        if not norm_key(text) or key in seen:
            continue
        seen.add(key)
        rows.append(record(text, rng.uniform(lo, hi), kind) | {"context": context})
        langs[lang] += 1
    return rows


def main() -> None:
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not security
    seen: set[str] = set()
    stats: dict[str, Counter] = {}
    generated = {}
    for split, size in SIZES.items():
        langs: Counter = Counter()
        generated[split] = (generate_split(split, size, rng, seen, langs), langs)
    # The supplement comes last, from its own stream, and only into train.
    extra_rng = random.Random(SEED + 1)  # noqa: S311 - reproducible data, not security
    train_rows, train_langs = generated["train"]
    train_rows.extend(generate_extra(TRAIN_EXTRA, extra_rng, seen, train_langs))
    context_rng = random.Random(SEED + 2)  # noqa: S311 - reproducible data, not security
    context_test_langs: Counter = Counter()
    generated["test_context"] = (
        generate_context("test", TEST_CONTEXT, context_rng, seen, context_test_langs),
        context_test_langs,
    )
    train_rows.extend(generate_context("train", TRAIN_CONTEXT, context_rng, seen, train_langs))
    extra_rng.shuffle(train_rows)
    for split, (rows, langs) in generated.items():
        path = OUT_DIR / f"{split}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        keep = sum(int(r["keep"]) for r in rows)
        kinds = Counter(str(r["kind"]) for r in rows)
        stats[split] = kinds
        other_langs = sum(v for k, v in langs.items() if k != "en")
        print(
            f"{split}: {len(rows)} rows, keep=1 {keep} ({keep / len(rows):.1%}), "
            f"non-English {other_langs} ({other_langs / len(rows):.1%}) "
            f"{dict(sorted(langs.items()))}"
        )
        print("  kinds:", dict(sorted(kinds.items())))


if __name__ == "__main__":
    main()
