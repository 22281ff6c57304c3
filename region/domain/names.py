"""
Host names for nodes that enlist without a usable one.

MAAS 1.8 gave a node a random ``adjective-noun`` name (``keen-otter``) when it
enlisted with no hostname, or with one derived from its IP address: the name
a MAAS-managed DNS would have given it (``10-0-0-23``), which means nothing to
people.  1.8 drew from a ``CandidateName`` table of about 1.28 million
combinations; ours come from two word lists written for this project
(380 adjectives by 413 nouns), every word lower-case ASCII letters, so every name is
a valid DNS label (at most 23 characters).  Uniqueness is the caller's
business: draw again when the name is taken.
"""

from __future__ import annotations

import random
import re

#: Adjectives: lower-case ASCII letters only.
ADJECTIVES = tuple("""
    able absolute active adept agile airy alert amber amiable ample amused ancient apt arctic
    ardent artful astute aware azure balanced balmy blazing blissful bold bouncy brave breezy
    bright brisk broad bronze bubbly buoyant busy calm candid capable careful caring casual
    charming cheerful chief chilly civic civil classic clean clear clever close cloudy coastal
    cobalt cool copper cordial cosmic cozy crafty crimson crisp cunning curious cyan dainty
    dapper daring dashing dazzling decent deep deft dense devoted diligent direct distant divine
    dry dusty dynamic eager early earnest earthy easy elated electric elegant emerald endless
    epic equal even exact expert fabled fair faithful famous fancy fast fearless fertile festive
    fiery fine firm fit fleet flexible flowing fluent fluffy flying fond formal frank fresh
    friendly frosty frugal funny genial gentle genuine giant gifted glad gleaming global glossy
    glowing golden good graceful gracious grand grateful great green handy happy hardy harmonic
    hearty helpful heroic hidden high honest hopeful humane humble icy ideal immense indigo
    inner jade jaunty jazzy jolly jovial joyful jubilant just keen kind known large lasting
    lavish lawful leafy lean level light likely limber linear lively local lofty loyal lucid
    lucky lunar lyrical magnetic main majestic major marine mature mellow merry mighty mild
    mindful minty misty modern modest molten mossy musical mutual native nautical neat nifty
    nimble noble normal novel oaken olive open optimal orange orderly original outer pacific
    patient peaceful pearly perfect placid plain playful pleasant plucky plush poised polar
    polished polite popular precise primal prime proper proud prudent quaint quick quiet quirky
    radiant rapid rare rational ready real refined regal relaxed reliable resolute rested rich
    robust rosy round royal ruby rugged rustic safe sandy satin savvy scarlet scenic secure
    sensible serene sharp shiny shrewd silent silken silver simple sincere skilled sleek slender
    smart smooth snappy snowy snug social solar solid sonic sound spare sparkling special speedy
    spicy spirited sporty spry stable steadfast steady stellar sterling still stoic stout strong
    sturdy sublime subtle sugary sunny super superb supple sure swift tactful tall tame tangy
    teal tender thankful thorough thrifty tidy timely tireless topaz tough tranquil trim
    tropical true trusted trusty tuned unique upbeat upright urban useful valiant valid vast
    velvet verdant vibrant vintage vital vivid warm wary wavy wealthy welcome whole wild willing
    windy wise witty wooden worthy young zany zealous zesty
""".split())

#: Nouns: lower-case ASCII letters only, none also an adjective.
NOUNS = tuple("""
    aardvark acacia acorn agate albatross alder alpaca amethyst anchor anemone ant antelope
    anvil apple apricot arch arrow aspen aster atlas atom aurora avocado badger bagel bamboo
    banjo banyan barley barn basil basin bat bay beacon beagle beam bear beaver bee beech beetle
    bell berry birch bison blossom bluebell boat bobcat bonsai boulder bramble breeze brick
    bridge brook buckeye buffalo bugle butte button cabin cactus camel canal candle canoe canyon
    cape caramel cardinal caribou carp cashew castle catalpa cedar cello chalk cheetah cherry
    chestnut chipmunk cider cinder cinnamon citrus clam clarinet cliff clover cobra coconut
    comet compass condor cornet cotton cougar cove coyote crane crater creek cricket crocus crow
    crystal cuckoo cumulus cypress dahlia daisy dandelion delta desert dewdrop dingo dolphin
    dove dragon drum dune eagle echo eel elk elm ember emu estuary falcon feather fern ferret
    fiddle fig finch firefly fjord flame flamingo flint flute forest fossil fox foxglove frog
    galaxy gannet garden gardenia garnet gazelle gecko geyser gibbon ginger glacier glade glen
    goat goose gopher gorge granite grape grouse grove guitar gull hare harbor harp harrier hawk
    hazel heather hemlock heron hibiscus hill hippo holly horizon hornet husky hyacinth ibex
    ibis iguana inlet iris island ivy jackal jackdaw jaguar jasmine jay jetty juniper kayak kelp
    kestrel kettle kingfisher kite kiwi koala ladybug lagoon lake lamp lantern larch lark laurel
    lemon lemur leopard lichen lilac lily lime linden lion lizard llama lobster locust loon
    lotus lupine lynx magnolia magpie mallard manatee mandolin mango maple marble marigold
    marmot marsh meadow meerkat melon mesa mesquite meteor minnow mink mint mistral mole monsoon
    moon moose moth mountain mulberry mule muskrat narwhal nebula nectar newt nightingale nutmeg
    oak oasis obsidian ocelot octopus opal orca orchard orchid oriole osprey otter owl oyster
    paddle panda panther papaya parrot pasture peach peak pear pebble pelican penguin peony
    pepper petal pheasant piano pigeon pine pinecone piper planet plover plum pollen pond poppy
    prairie prism puffin puma quail quartz quince rabbit raccoon radish rain rapids raven
    redwood reef reindeer rhubarb ridge river robin rocket rook rose saffron sage saguaro
    salamander salmon sandpiper sapphire sardine seal sequoia shark shell shore shrimp sierra
    skunk sloth snail sorrel sparrow spruce squall squid squirrel star starling stone stork
    stream summit swallow swan sycamore tamarack tangerine tapir teak tern thicket thistle
    thrush thunder tiger timber toad tortoise toucan trail trout trumpet tulip tundra turnip
    turtle valley violet vireo viper walnut walrus wasp waterfall weasel whale wheat wigeon
    wildflower willow wolf wombat wren yak yarrow zebra zephyr zinnia
""".split())


#: 1.8's test (``IP_BASED_HOSTNAME_REGEXP``), applied with ``re.match``: it is
#: anchored at the start only, so ``10-0-0-23.maas`` and even
#: ``192-168-1-20-web`` count as IP-derived.  We keep that behaviour.
_IP_DERIVED = re.compile(r"\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}")


def random_hostname(rng: random.Random) -> str:
    """A random ``adjective-noun`` name, drawn with rng (inject a seeded one in tests)."""
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"


def is_ip_derived(hostname: str) -> bool:
    """True when hostname looks derived from an IP address (``10-0-0-23``), so
    enlistment replaces it with a random name, as 1.8 did."""
    return _IP_DERIVED.match(hostname) is not None
