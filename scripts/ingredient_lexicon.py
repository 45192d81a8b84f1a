"""Write the ingredient-name lexicon the OCR name correction reads
(`pipeline/panel/ingredient_names.txt`, read by `pipeline.panel.ocr_names`).

Two sources, each its own section of the file, one name a line:

- `CURATED`: common supplement ingredients a label reader knows before seeing a label:
  vitamins and their forms, minerals and their salts and chelates, amino acids, common
  botanicals and the plant parts printed after them, probiotics, and the words of other
  ingredients and panel headings. Written from domain knowledge, never from a label set
  that measures the reader.
- The ingredient names, groups, forms and other ingredients of the committed real DSLD
  labels (tests/data/dsld/labels.json), so the product never reads tests/ at run time.

The project's own nutrient names and synonyms (`pipeline.nutrients`,
`pipeline.rules.regulated`) are not written here: `pipeline.panel.ocr_names` adds them when
it loads the file, so they are never copied. Run after changing either source, and commit
the output (a unit test checks it is current):
`.venv/bin/python -m scripts.ingredient_lexicon`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DSLD_LABELS = ROOT / "tests" / "data" / "dsld" / "labels.json"
OUTPUT = ROOT / "pipeline" / "panel" / "ingredient_names.txt"

#: Common supplement ingredients, one name a line, grouped by kind.
CURATED = """
# vitamins and their forms
Vitamin A; Vitamin B1; Vitamin B2; Vitamin B3; Vitamin B5; Vitamin B6; Vitamin B7
Vitamin B9; Vitamin B12; Vitamin C; Vitamin D; Vitamin D2; Vitamin D3; Vitamin E
Vitamin K; Vitamin K1; Vitamin K2; Vitamins; Multivitamin
Retinol; Retinyl Palmitate; Retinyl Acetate; Beta-Carotene; Mixed Carotenoids
Thiamin; Thiamine; Thiamine Mononitrate; Thiamine Hydrochloride; Benfotiamine
Riboflavin; Riboflavin 5'-Phosphate; Niacin; Niacinamide; Nicotinic Acid; Inositol Hexanicotinate
Pantothenic Acid; Calcium Pantothenate; Pantethine
Pyridoxine Hydrochloride; Pyridoxal 5'-Phosphate; Pyridoxal Phosphate
Biotin; D-Biotin; Folate; Folic Acid; Methylfolate; L-Methylfolate; Calcium L-Methylfolate
5-Methyltetrahydrofolate; Folinic Acid; Calcium Folinate
Cobalamin; Cyanocobalamin; Methylcobalamin; Adenosylcobalamin; Hydroxocobalamin
Ascorbic Acid; Calcium Ascorbate; Sodium Ascorbate; Magnesium Ascorbate; Ascorbyl Palmitate
Cholecalciferol; Ergocalciferol; Lichen
Tocopherol; Tocopherols; Tocopheryl; d-Alpha Tocopherol; dl-Alpha Tocopherol
d-Alpha Tocopheryl Acetate; d-Alpha Tocopheryl Succinate; Mixed Tocopherols; Tocotrienols
Gamma Tocopherol; Delta Tocopherol
Phylloquinone; Phytonadione; Menaquinone; Menaquinone-4; Menaquinone-7; Menatetrenone; Natto
Choline; Choline Bitartrate; Choline Chloride; Citicoline; Phosphatidylcholine
Inositol; Myo-Inositol; PABA; Para-Aminobenzoic Acid
# minerals, their salts and chelates
Calcium; Magnesium; Zinc; Iron; Copper; Manganese; Selenium; Chromium; Molybdenum
Iodine; Potassium; Sodium; Chloride; Phosphorus; Boron; Vanadium; Silicon; Nickel; Tin
Lithium; Strontium; Germanium; Sulfur; Fluoride; Cobalt
Carbonate; Citrate; Citrate Malate; Gluconate; Lactate; Oxide; Hydroxide; Sulfate
Phosphate; Chloride; Aspartate; Glycinate; Bisglycinate; Diglycinate; Chelate; Amino Acid Chelate
Picolinate; Polynicotinate; Orotate; Taurate; Threonate; Malate; Fumarate; Succinate
Ascorbate; Citrate Malate; Monomethionine; Methionine; Selenomethionine; Selenate; Selenite
Iodide; Iodate; Borate; Glycerophosphate; Pidolate; Acetate; Stearate; Silicate
Sodium Selenite; Sodium Selenate; Sodium Molybdate; Potassium Iodide; Potassium Chloride
Potassium Citrate; Sodium Borate; Boron Citrate; Chromium Picolinate; Chromium Polynicotinate
Chromium Chloride; Vanadyl Sulfate; Sodium Metavanadate; Zinc Oxide; Zinc Citrate
Zinc Gluconate; Zinc Picolinate; Zinc Sulfate; Zinc Bisglycinate; Copper Gluconate
Cupric Oxide; Cupric Sulfate; Copper Bisglycinate; Manganese Gluconate; Manganese Sulfate
Manganese Citrate; Manganese Bisglycinate; Ferrous Fumarate; Ferrous Sulfate; Ferrous Bisglycinate
Ferric Pyrophosphate; Carbonyl Iron; Calcium Carbonate; Calcium Citrate; Tricalcium Phosphate
Dicalcium Phosphate; Calcium Phosphate; Calcium Lactate; Calcium Gluconate; Calcium Hydroxyapatite
Microcrystalline Hydroxyapatite; Aquamin; Lithothamnion; Algae Calcium; Coral Calcium; Eggshell
Magnesium Oxide; Magnesium Citrate; Magnesium Glycinate; Magnesium Bisglycinate
Magnesium Malate; Magnesium Taurate; Magnesium L-Threonate; Magnesium Aspartate
Magnesium Chloride; Magnesium Sulfate; Magnesium Hydroxide; Magnesium Carbonate
Potassium Bicarbonate; Sodium Bicarbonate; Trace Minerals; Electrolytes; Sea Salt; Kelp
# amino acids and other nutrients
Amino Acids; L-Alanine; Beta-Alanine; L-Arginine; L-Asparagine; L-Aspartic Acid; L-Citrulline
L-Cysteine; L-Cystine; N-Acetyl Cysteine; N-Acetyl-L-Cysteine; L-Glutamic Acid; L-Glutamine
Glycine; L-Histidine; L-Isoleucine; L-Leucine; L-Lysine; L-Methionine; L-Ornithine
L-Phenylalanine; L-Proline; L-Serine; L-Threonine; L-Tryptophan; L-Tyrosine; L-Valine
L-Taurine; Taurine; L-Carnitine; Acetyl-L-Carnitine; L-Carnitine Tartrate; L-Theanine
Creatine; Creatine Monohydrate; Betaine; Betaine HCl; Trimethylglycine; Glutathione
5-HTP; 5-Hydroxytryptophan; GABA; Gamma-Aminobutyric Acid; Tyrosine; Arginine; Lysine
Leucine; Isoleucine; Valine; Branched Chain Amino Acids; BCAA; Ornithine; Citrulline
Alpha Lipoic Acid; Alpha-Lipoic Acid; R-Lipoic Acid; Lipoic Acid; Coenzyme Q10; CoQ10
Ubiquinol; Ubiquinone; PQQ; Pyrroloquinoline Quinone; NADH; Nicotinamide Riboside
Carnosine; Carnitine; Chondroitin; Chondroitin Sulfate; Glucosamine; Glucosamine Sulfate
Glucosamine Hydrochloride; MSM; Methylsulfonylmethane; Hyaluronic Acid; Collagen
Hydrolyzed Collagen; Collagen Peptides; Gelatin; Keratin; Elastin; Whey Protein; Casein
Protein; Pea Protein; Rice Protein; Soy Protein; Lecithin; Sunflower Lecithin; Soy Lecithin
Phosphatidylserine; Omega-3; Omega-3 Fatty Acids; Fish Oil; Krill Oil; Cod Liver Oil
EPA; DHA; Eicosapentaenoic Acid; Docosahexaenoic Acid; Flaxseed Oil; Borage Oil
Evening Primrose Oil; Gamma-Linolenic Acid; GLA; Conjugated Linoleic Acid; CLA; Oleic Acid
Linoleic Acid; Medium Chain Triglycerides; MCT Oil; Lutein; Zeaxanthin; Lycopene
Astaxanthin; Beta-Glucan; Beta Glucans; Inulin; Fructooligosaccharides; Psyllium; Psyllium Husk
Dietary Fiber; Fiber; Pectin; Apple Pectin; Glucomannan; Chlorella; Spirulina; Chlorophyll
Chlorophyllin; Melatonin; DHEA; Pregnenolone; Quercetin; Rutin; Hesperidin; Citrus Bioflavonoids
Bioflavonoids; Flavonoids; Resveratrol; Trans-Resveratrol; Pterostilbene; Curcumin; Curcuminoids
Piperine; Bromelain; Papain; Serrapeptase; Nattokinase; Lactase; Lipase; Protease; Amylase
Cellulase; Digestive Enzymes; Enzymes; Pepsin; Ox Bile; Royal Jelly; Bee Pollen; Propolis
Colostrum; Lactoferrin; Diindolylmethane; DIM; Indole-3-Carbinol; Sulforaphane; Berberine
Berberine HCl; Caffeine; Theobromine; Nitrate; Nitric Oxide; Polyphenols; Catechins; EGCG
Anthocyanins; Proanthocyanidins; Oligomeric Proanthocyanidins; Ellagic Acid; Chlorogenic Acid
Silymarin; Fucoidan; Humic Acid; Fulvic Acid; Shilajit; Squalene; Phytosterols; Beta-Sitosterol
# botanicals
Ashwagandha; Withania somnifera; Turmeric; Curcuma longa; Ginger; Zingiber officinale
Garlic; Allium sativum; Cinnamon; Cinnamomum; Ceylon Cinnamon; Cassia; Cinnamon Bark
Gymnema; Gymnema sylvestre; Bitter Melon; Momordica charantia; Banaba; Lagerstroemia speciosa
Fenugreek; Trigonella foenum-graecum; Licorice; Licorice Root; Glycyrrhiza glabra
Cayenne; Cayenne Pepper; Capsicum; Capsaicin; Black Pepper; Piper nigrum; Long Pepper
Juniper; Juniper Berry; Juniperus communis; Yarrow; Achillea millefolium; Mulberry
White Mulberry; Morus alba; Guggul; Commiphora mukul; Nopal; Prickly Pear
Ginseng; Panax ginseng; Korean Ginseng; American Ginseng; Siberian Ginseng; Eleuthero
Rhodiola; Rhodiola rosea; Maca; Lepidium meyenii; Tongkat Ali; Eurycoma longifolia
Tribulus; Tribulus terrestris; Horny Goat Weed; Epimedium; Saw Palmetto; Serenoa repens
Pygeum; Nettle; Stinging Nettle; Urtica dioica; Pumpkin Seed; Lycopene; Milk Thistle
Silybum marianum; Dandelion; Taraxacum officinale; Burdock; Arctium lappa; Artichoke
Echinacea; Echinacea purpurea; Echinacea angustifolia; Elderberry; Sambucus nigra; Elder
Astragalus; Astragalus membranaceus; Andrographis; Goldenseal; Hydrastis canadensis
Olive Leaf; Olea europaea; Oregano; Oregano Oil; Thyme; Rosemary; Sage; Peppermint
Spearmint; Chamomile; Lavender; Lemon Balm; Melissa officinalis; Passionflower
Passiflora incarnata; Valerian; Valerian Root; Valeriana officinalis; Hops; Humulus lupulus
Kava; Skullcap; St. John's Wort; Hypericum perforatum; Ginkgo; Ginkgo biloba; Bacopa
Bacopa monnieri; Gotu Kola; Centella asiatica; Lion's Mane; Hericium erinaceus; Reishi
Ganoderma lucidum; Cordyceps; Cordyceps sinensis; Chaga; Inonotus obliquus; Shiitake
Maitake; Turkey Tail; Trametes versicolor; Mushroom; Mushrooms; Mycelium
Green Tea; Camellia sinensis; Green Coffee; Green Coffee Bean; Coffea arabica; Guarana
Yerba Mate; Cocoa; Cacao; Theobroma cacao; Grape Seed; Grape Skin; Vitis vinifera
Pine Bark; Pycnogenol; Bilberry; Vaccinium myrtillus; Blueberry; Cranberry; Vaccinium macrocarpon
Raspberry; Raspberry Ketones; Strawberry; Pomegranate; Punica granatum; Acai; Goji
Goji Berry; Lycium barbarum; Schisandra; Schisandra chinensis; Amla; Emblica officinalis
Acerola; Rose Hips; Rosa canina; Camu Camu; Hibiscus; Hawthorn; Crataegus; Beetroot
Beet Root; Spinach; Kale; Broccoli; Broccoli Sprout; Wheatgrass; Barley Grass; Alfalfa
Moringa; Moringa oleifera; Neem; Azadirachta indica; Tulsi; Holy Basil; Ocimum sanctum
Boswellia; Boswellia serrata; Frankincense; Devil's Claw; White Willow; White Willow Bark
Salix alba; Feverfew; Butterbur; Black Cohosh; Cimicifuga racemosa; Red Clover
Trifolium pratense; Dong Quai; Angelica sinensis; Chasteberry; Vitex agnus-castus
Wild Yam; Dioscorea villosa; Shatavari; Asparagus racemosus; Fennel; Fennel Seed
Anise; Caraway; Cardamom; Clove; Nutmeg; Coriander; Cumin; Dill; Parsley; Celery Seed
Black Seed; Nigella sativa; Black Cumin; Flaxseed; Chia Seed; Hemp Seed; Sesame
Aloe; Aloe Vera; Aloe barbadensis; Slippery Elm; Marshmallow Root; Althaea officinalis
Cascara Sagrada; Senna; Psyllium; Triphala; Haritaki; Bibhitaki; Trikatu; Guduchi
Tinospora cordifolia; Shilajit; Mucuna pruriens; Velvet Bean; Kudzu; Pueraria lobata
Horsetail; Equisetum arvense; Uva Ursi; Arctostaphylos uva-ursi; Cranberry Fruit
Corn Silk; Buchu; Gravel Root; Hydrangea; Chanca Piedra; Phyllanthus niruri
Cat's Claw; Uncaria tomentosa; Pau d'Arco; Yohimbe; Damiana; Catuaba; Muira Puama
Horse Chestnut; Aesculus hippocastanum; Butcher's Broom; Gymnema Leaf; Bitter Orange
Citrus aurantium; Forskolin; Coleus forskohlii; Garcinia cambogia; Garcinia; Hoodia
Kelp; Bladderwrack; Fucus vesiculosus; Sea Moss; Irish Moss; Dulse; Nori; Chlorella
Noni; Mangosteen; Sea Buckthorn; Baobab; Lucuma; Monk Fruit; Luo Han Guo; Stevia
Stevia rebaudiana; Licorice Extract; Deglycyrrhizinated Licorice; Mastic Gum; Marjoram
Rooibos; Cat's Claw; Elecampane; Mullein; Verbascum thapsus; Lobelia; Eucalyptus; Thymus
Plantain; Plantago; Red Raspberry Leaf; Nettle Leaf; Alfalfa Leaf; Olive; Lemon; Orange
Grapefruit; Lime; Apple; Apple Cider Vinegar; Pineapple; Papaya; Mango; Banana; Cherry
Tart Cherry; Black Cherry; Black Currant; Blackberry; Elderflower; Honeysuckle; Chrysanthemum
Jujube; Reishi Mushroom; Poria; Rehmannia; Peony; He Shou Wu; Fo-Ti; Polygonum multiflorum
Japanese Knotweed; Polygonum cuspidatum; Turmeric Root; Ginger Root; Ashwagandha Root
Chicory Root; Dandelion Root; Burdock Root; Yellow Dock; Oregon Grape; Barberry
Berberis vulgaris; Coptis; Goldthread; Blessed Thistle; Milk Thistle Seed; Gentian
Wormwood; Black Walnut; Black Walnut Hull; Pumpkin; Grapefruit Seed; Oat Straw; Avena sativa
Passion Flower; Lemongrass; Hyssop; Horehound; Wild Cherry Bark; Pine; Spruce; Birch
# plant parts and extract words
Root; Roots; Rhizome; Leaf; Leaves; Stem; Stems; Bark; Fruit; Fruits; Berry; Berries; Seed
Seeds; Flower; Flowers; Herb; Aerial Parts; Whole Plant; Bulb; Peel; Rind; Hull; Husk
Kernel; Bud; Buds; Sprout; Sprouts; Resin; Gum; Juice; Pulp; Skin; Shell; Cone; Tuber
Fruiting Body; Mycelium; Spore; Thallus; Needle; Twig; Wood; Heartwood; Petal; Stigma
Extract; Extracts; Standardized Extract; Powder; Powdered; Concentrate; Oil; Essential Oil
Tincture; Whole; Dried; Freeze-Dried; Fresh; Raw; Organic; Wildcrafted; Fermented; Sprouted
Standardized; Standardised; Providing; Yielding; Equivalent; Containing; Minimum; Min
Ratio; Complex; Blend; Proprietary Blend; Formula; Matrix; Support; Comfort
# probiotics
Probiotic; Probiotics; Probiotic Blend; Prebiotic; Prebiotics; Live Cultures; Cultures; CFU
Lactobacillus; Lactobacillus acidophilus; Lactobacillus rhamnosus; Lactobacillus casei
Lactobacillus paracasei; Lactobacillus plantarum; Lactobacillus reuteri; Lactobacillus gasseri
Lactobacillus salivarius; Lactobacillus fermentum; Lactobacillus helveticus
Lactobacillus bulgaricus; Lactobacillus delbrueckii; Lactobacillus brevis; Lactobacillus lactis
Lacticaseibacillus; Lactiplantibacillus; Limosilactobacillus; Ligilactobacillus
Bifidobacterium; Bifidobacterium longum; Bifidobacterium breve; Bifidobacterium bifidum
Bifidobacterium lactis; Bifidobacterium animalis; Bifidobacterium infantis
Bifidobacterium adolescentis; Streptococcus thermophilus; Lactococcus lactis
Saccharomyces boulardii; Saccharomyces cerevisiae; Bacillus coagulans; Bacillus subtilis
Bacillus clausii; Pediococcus acidilactici; Leuconostoc mesenteroides; Enterococcus faecium
# other ingredients
Other Ingredients; Cellulose; Microcrystalline Cellulose; Hypromellose; Hydroxypropyl
Methylcellulose; Hydroxypropyl Methylcellulose; Vegetable Cellulose; Vegetable Capsule
Capsule; Capsules; Softgel; Softgels; Tablet; Tablets; Gelatin Capsule; Vegetarian Capsule
Pullulan; Rice Flour; Rice Bran; Rice Hulls; Magnesium Stearate; Vegetable Magnesium Stearate
Stearic Acid; Silicon Dioxide; Silica; Dicalcium Phosphate; Croscarmellose Sodium
Crospovidone; Sodium Starch Glycolate; Povidone; Maltodextrin; Dextrose; Dextrin; Sucrose
Sorbitol; Xylitol; Mannitol; Maltitol; Erythritol; Glycerin; Vegetable Glycerin; Glycerol
Water; Purified Water; Sunflower Oil; Safflower Oil; Olive Oil; Coconut Oil; Palm Oil
Medium Chain Triglyceride; Beeswax; Carnauba Wax; Shellac; Pharmaceutical Glaze; Talc
Titanium Dioxide; Iron Oxide; Natural Flavor; Natural Flavors; Flavor; Flavors; Color
Colors; Citric Acid; Malic Acid; Ascorbic Acid; Sodium Citrate; Potassium Sorbate
Sodium Benzoate; Sucralose; Acesulfame Potassium; Stevia Leaf Extract; Monk Fruit Extract
Gum Arabic; Acacia; Acacia Gum; Xanthan Gum; Guar Gum; Carrageenan; Agar; Pectin; Tapioca
Tapioca Starch; Corn Starch; Potato Starch; Modified Food Starch; Cornstarch; Starch
Lactose; Milk; Soy; Wheat; Gluten; Egg; Fish; Shellfish; Tree Nuts; Peanuts
Calcium Silicate; Calcium Stearate; Sodium Lauryl Sulfate; Polysorbate; Polyethylene Glycol
Mixed Tocopherols; Rosemary Extract; Annatto; Beet Juice; Turmeric Color; Caramel Color
Chlorophyll; Vanilla; Honey; Cane Sugar; Sugar; Tapioca Syrup; Brown Rice Syrup; Fructose
# panel words
Supplement Facts; Serving Size; Servings Per Container; Amount Per Serving; Daily Value
Calories; Total Carbohydrate; Total Fat; Saturated Fat; Trans Fat; Cholesterol; Protein
Total Sugars; Added Sugars; Includes; Dietary Fiber; Sodium; Not Established; Percent
Daily Values; Based; Calorie; Diet; Each; Per; Contains; Less Than; Elemental; From; With
"""


def curated_names() -> list[str]:
    """The names of `CURATED` in order, without repeats (a line holds several, split by ";")."""
    names: list[str] = []
    for line in CURATED.splitlines():
        if line.startswith("#"):
            continue
        for name in line.split(";"):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


#: DSLD writes "unspecified" and such where a label prints no form: not names.
_NOT_NAMES = frozenset({"unspecified", "none", "", "tbd"})
_SPACES_RE = re.compile(r"\s+")


def dsld_names(path: Path = DSLD_LABELS) -> list[str]:
    """Every ingredient name, group, form and other ingredient of the DSLD labels at
    `path`, sorted case-insensitively, without repeats."""
    seen: dict[str, str] = {}
    for label in json.loads(path.read_text(encoding="utf-8")):
        texts: list[str] = []
        for ing in label.get("ingredients") or []:
            texts += [ing.get("name") or "", ing.get("ingredient_group") or ""]
            texts += list(ing.get("forms") or [])
        texts += list(label.get("other_ingredients") or [])
        for text in texts:
            name = _SPACES_RE.sub(" ", text).strip()
            if name.lower() not in _NOT_NAMES:
                seen.setdefault(name.lower(), name)
    return sorted(seen.values(), key=str.lower)


def render() -> str:
    """The lexicon file's text."""
    out = [
        "# Ingredient names for the OCR name correction (pipeline.panel.ocr_names).",
        "# Written by scripts/ingredient_lexicon.py: do not edit by hand. One name a line;",
        "# the project's own nutrient names are added at load time.",
        "# --- curated: common supplement ingredients",
        *curated_names(),
        "# --- the committed DSLD labels (tests/data/dsld/labels.json)",
        *dsld_names(),
    ]
    return "\n".join(out) + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
