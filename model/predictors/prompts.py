"""Zero-shot text prompts for countries and first-level regions (StreetCLIP / CLIP).

The wording follows StreetCLIP's pretraining captions (PIGEON's ``pretrain_dataset.py``: "A Street View
photo in the region of {region} in {country}.", "the" before some country names) and its zero-shot
evaluation ("A Street View photo in {country}."). Country names in prompts are the short, common English
names found in web text (Russia, not "Russian Federation"), apart from the display names of
:func:`model.data.revgeo.country_name`.
"""
from __future__ import annotations

from model.data.revgeo import country_name

COUNTRY_TEMPLATE = "A Street View photo in {country}."
REGION_TEMPLATE = "A Street View photo in the region of {region} in {country}."
PROMPT_VERSION = 1  # part of the text-embedding cache key: bump when the wording changes

# ISO code -> the name used in prompts where pycountry's differs from common usage
PROMPT_NAMES = {
    "BN": "Brunei", "BO": "Bolivia", "CD": "the Democratic Republic of the Congo", "CG": "the Republic of the Congo",
    "CZ": "the Czech Republic", "FK": "the Falkland Islands", "FM": "Micronesia", "IR": "Iran", "KP": "North Korea",
    "KR": "South Korea", "LA": "Laos", "MD": "Moldova", "MF": "Saint Martin", "MO": "Macau", "PS": "Palestine",
    "RU": "Russia", "SH": "Saint Helena", "SX": "Sint Maarten", "SY": "Syria", "SZ": "Swaziland",
    "TL": "East Timor", "TR": "Turkey", "TZ": "Tanzania", "VA": "Vatican City", "VE": "Venezuela",
    "VG": "the British Virgin Islands", "VI": "the US Virgin Islands", "VN": "Vietnam",
    "BQ": "the Caribbean Netherlands", "CC": "the Cocos Islands",
}
# names that take "the" in English ("in the United States"): PIGEON's list and the plural island groups
THE = {"AE", "BS", "CF", "DO", "GB", "GM", "KM", "KY", "MH", "MV", "NL", "PH", "SB", "SC", "TC", "US", "FO", "AX",
       "MP", "CK", "CX"}


def prompt_country(code: str) -> str:
    """The country's name as it reads in a prompt: "the United States", "Russia", "Croatia"."""
    code = code.upper()
    if code in PROMPT_NAMES:
        return PROMPT_NAMES[code]
    name = country_name(code)
    return f"the {name}" if code in THE else name


def country_prompt(code: str) -> str:
    """The prompt of a country: ``A Street View photo in Croatia.``"""
    return COUNTRY_TEMPLATE.format(country=prompt_country(code))


def region_prompt(code: str, admin1: str) -> str:
    """The prompt of a first-level region; a country without regions gets its country prompt."""
    if not admin1:
        return country_prompt(code)
    return REGION_TEMPLATE.format(region=admin1, country=prompt_country(code))
