"""The temporal split, text builders and ranking metrics, on a real slice of Online Retail.

The slice is 66 real rows: four customers' first three lines per invoice, July to October 2011 (one
non-product "Manual" line included, which cleaning must drop).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from retrieval.datasets import load_retail
from retrieval.metrics import evaluate
from retrieval.splits import TEST_END, TRAIN_END, VALID_END, case_text, known_items, next_basket_cases, training_cases
from retrieval.texts import Purchase, purchase_history_text, recency_weighted

RETAIL_SLICE = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
558679,M,Manual,1,2011-07-01 10:58:00,1.0,17800.0,United Kingdom
558679,22383,LUNCH BAG SUKI DESIGN ,3,2011-07-01 10:58:00,1.65,17800.0,United Kingdom
558679,22332,SKULLS PARTY BAG + STICKER SET,3,2011-07-01 10:58:00,1.65,17800.0,United Kingdom
558748,22566,FELTCRAFT HAIRBAND PINK AND PURPLE,12,2011-07-03 10:23:00,0.85,17800.0,United Kingdom
558748,47566B,TEA TIME PARTY BUNTING,1,2011-07-03 10:23:00,4.95,17800.0,United Kingdom
558748,20727,LUNCH BAG  BLACK SKULL.,10,2011-07-03 10:23:00,1.65,17800.0,United Kingdom
563212,23313,VINTAGE CHRISTMAS BUNTING,3,2011-08-14 12:41:00,4.95,17800.0,United Kingdom
563212,22383,LUNCH BAG SUKI DESIGN ,4,2011-08-14 12:41:00,1.65,17800.0,United Kingdom
563212,21380,WOODEN HAPPY BIRTHDAY GARLAND,12,2011-08-14 12:41:00,2.95,17800.0,United Kingdom
566189,85185B,PINK HORSE SOCK PUPPET,4,2011-09-09 13:19:00,2.95,17800.0,United Kingdom
566189,22332,SKULLS PARTY BAG + STICKER SET,3,2011-09-09 13:19:00,1.65,17800.0,United Kingdom
566189,20727,LUNCH BAG  BLACK SKULL.,3,2011-09-09 13:19:00,1.65,17800.0,United Kingdom
572220,23197,SKETCHBOOK MAGNETIC SHOPPING LIST,1,2011-10-21 13:24:00,1.45,17800.0,United Kingdom
572220,22565,FELTCRAFT HAIRBANDS PINK AND WHITE ,12,2011-10-21 13:24:00,0.85,17800.0,United Kingdom
572220,21989,PACK OF 20 SKULL PAPER NAPKINS,2,2011-10-21 13:24:00,0.85,17800.0,United Kingdom
558700,20728,LUNCH BAG CARS BLUE,10,2011-07-01 12:33:00,1.65,17920.0,United Kingdom
558700,20727,LUNCH BAG  BLACK SKULL.,20,2011-07-01 12:33:00,1.65,17920.0,United Kingdom
558700,23204,CHARLOTTE BAG APPLES DESIGN,10,2011-07-01 12:33:00,0.85,17920.0,United Kingdom
560937,20694,FLORAL PINK MONSTER,1,2011-07-22 10:52:00,3.75,17920.0,United Kingdom
560937,21311,SET/4 BIRD MIRROR MAGNETS ,1,2011-07-22 10:52:00,0.29,17920.0,United Kingdom
560937,22634,CHILDS BREAKFAST SET SPACEBOY ,1,2011-07-22 10:52:00,9.95,17920.0,United Kingdom
561381,84800M,MEDIUM WHITE/PINK ROSE ART FLOWER,6,2011-07-26 17:14:00,1.69,17920.0,United Kingdom
561381,21845,DAIRY MAID STRIPE MUG,6,2011-07-26 17:14:00,0.79,17920.0,United Kingdom
561381,22649,STRAWBERRY FAIRY CAKE TEAPOT,1,2011-07-26 17:14:00,4.95,17920.0,United Kingdom
564647,22659,LUNCH BOX I LOVE LONDON,5,2011-08-26 13:56:00,1.95,17920.0,United Kingdom
564647,22890,NOVELTY BISCUITS CAKE STAND 3 TIER,1,2011-08-26 13:56:00,9.95,17920.0,United Kingdom
564647,23282,FOLDING BUTTERFLY MIRROR IVORY ,1,2011-08-26 13:56:00,0.83,17920.0,United Kingdom
567804,23234,BISCUIT TIN VINTAGE CHRISTMAS,1,2011-09-22 12:13:00,2.89,17920.0,United Kingdom
567804,23247,BISCUIT TIN 50'S CHRISTMAS,1,2011-09-22 12:13:00,2.89,17920.0,United Kingdom
567804,23312,VINTAGE CHRISTMAS GIFT SACK,2,2011-09-22 12:13:00,4.15,17920.0,United Kingdom
571546,21034,REX CASH+CARRY JUMBO SHOPPER,2,2011-10-17 17:24:00,0.95,17920.0,United Kingdom
571546,23089,GLASS BON BON JAR,6,2011-10-17 17:24:00,1.95,17920.0,United Kingdom
571546,23338,EGG FRYING PAN RED ,1,2011-10-17 17:24:00,2.08,17920.0,United Kingdom
558719,22041,"RECORD FRAME 7"" SINGLE SIZE ",48,2011-07-01 13:48:00,2.1,13576.0,United Kingdom
558719,21137,BLACK RECORD COVER FRAME,72,2011-07-01 13:48:00,3.39,13576.0,United Kingdom
558719,82578,KITCHEN METAL SIGN,12,2011-07-01 13:48:00,0.55,13576.0,United Kingdom
561023,21137,BLACK RECORD COVER FRAME,72,2011-07-24 10:30:00,3.39,13576.0,United Kingdom
561023,22041,"RECORD FRAME 7"" SINGLE SIZE ",48,2011-07-24 10:30:00,2.1,13576.0,United Kingdom
561023,21179,NO JUNK MAIL METAL SIGN,24,2011-07-24 10:30:00,0.39,13576.0,United Kingdom
563719,21137,BLACK RECORD COVER FRAME,72,2011-08-18 16:19:00,3.39,13576.0,United Kingdom
563719,82001S,VINYL RECORD FRAME SILVER,24,2011-08-18 16:19:00,3.39,13576.0,United Kingdom
563719,82580,BATHROOM METAL SIGN,12,2011-08-18 16:19:00,0.55,13576.0,United Kingdom
565418,22189,CREAM HEART CARD HOLDER,4,2011-09-04 12:07:00,3.95,13576.0,United Kingdom
565418,21755,LOVE BUILDING BLOCK WORD,3,2011-09-04 12:07:00,6.25,13576.0,United Kingdom
565418,22796,PHOTO FRAME 3 CLASSIC HANGING,2,2011-09-04 12:07:00,9.95,13576.0,United Kingdom
568954,20829,GLITTER HANGING BUTTERFLY STRING,8,2011-09-29 15:32:00,2.1,13576.0,United Kingdom
568954,20828,GLITTER BUTTERFLY CLIPS,6,2011-09-29 15:32:00,2.55,13576.0,United Kingdom
568954,82001S,VINYL RECORD FRAME SILVER,24,2011-09-29 15:32:00,3.39,13576.0,United Kingdom
571848,22278,OVERNIGHT BAG VINTAGE ROSE PAISLEY,3,2011-10-19 12:50:00,4.95,13576.0,United Kingdom
571848,22947,WOODEN ADVENT CALENDAR RED,2,2011-10-19 12:50:00,7.95,13576.0,United Kingdom
571848,22464,HANGING METAL HEART LANTERN,12,2011-10-19 12:50:00,1.65,13576.0,United Kingdom
558740,82482,WOODEN PICTURE FRAME WHITE FINISH,1,2011-07-01 15:39:00,2.55,16775.0,United Kingdom
558740,47566,PARTY BUNTING,11,2011-07-01 15:39:00,4.95,16775.0,United Kingdom
558740,23298,SPOTTY BUNTING,8,2011-07-01 15:39:00,4.95,16775.0,United Kingdom
561818,23322,LARGE WHITE HEART OF WICKER,3,2011-07-29 15:51:00,2.95,16775.0,United Kingdom
561818,23321,SMALL WHITE HEART OF WICKER,3,2011-07-29 15:51:00,1.65,16775.0,United Kingdom
561818,22470,HEART OF WICKER LARGE,2,2011-07-29 15:51:00,2.95,16775.0,United Kingdom
562809,22795,SWEETHEART RECIPE BOOK STAND,1,2011-08-09 15:12:00,6.75,16775.0,United Kingdom
562809,23332,IVORY WICKER HEART LARGE,1,2011-08-09 15:12:00,1.65,16775.0,United Kingdom
562809,23329,DECORATIVE WICKER HEART LARGE,3,2011-08-09 15:12:00,1.65,16775.0,United Kingdom
568726,23397,FOOT STOOL HOME SWEET HOME ,1,2011-09-28 16:35:00,9.95,16775.0,United Kingdom
568726,23401,RUSTIC MIRROR WITH LACE HEART,2,2011-09-28 16:35:00,6.25,16775.0,United Kingdom
568726,23408,PHOTO FRAME LINEN AND LACE SMALL,6,2011-09-28 16:35:00,2.08,16775.0,United Kingdom
571081,84836,ZINC METAL HEART DECORATION,12,2011-10-13 15:23:00,1.25,16775.0,United Kingdom
571081,23026,DRAWER KNOB VINTAGE GLASS STAR,6,2011-10-13 15:23:00,2.08,16775.0,United Kingdom
571081,22470,HEART OF WICKER LARGE,4,2011-10-13 15:23:00,2.95,16775.0,United Kingdom
"""


def write_slice(directory: Path) -> Path:
    path = directory / "online_retail_slice.csv"
    path.write_text(RETAIL_SLICE)
    return path


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory):
    return load_retail(write_slice(tmp_path_factory.mktemp("retail")))


def test_slice_is_cleaned_like_the_store(retail):
    assert "M" not in retail.catalogue.skus  # the "Manual" service line
    assert len(retail.baskets) == 22
    assert {b.customer for b in retail.baskets} == {"17800", "17920", "13576", "16775"}
    assert [b.at for b in retail.baskets] == sorted(b.at for b in retail.baskets)


def test_training_cases_never_see_the_future(retail):
    cases = training_cases(retail, TRAIN_END, per_customer=10, seed=0)
    assert cases
    for case in cases:
        assert case.target.at < TRAIN_END
        assert case.history and all(b.at < case.target.at for b in case.history)
        assert case.as_of == case.target.at


def test_month_cases_take_the_first_basket_with_history_before_the_month(retail):
    for start, end in ((TRAIN_END, VALID_END), (VALID_END, TEST_END)):
        cases = next_basket_cases(retail, start, end)
        assert len(cases) == 4
        for case in cases:
            assert all(b.at < start for b in case.history)
            assert start <= case.target.at < end
            later = [b for b in retail.baskets if b.customer == case.customer and start <= b.at < end]
            assert case.target == later[0]


def test_history_text_holds_nothing_bought_after_its_moment(retail):
    customer_17800 = next(c for c in next_basket_cases(retail, TRAIN_END, VALID_END) if c.customer == "17800")
    text = case_text(customer_17800, retail)
    assert "lunch bag suki design" in text
    assert "pink horse sock puppet" not in text  # first bought in September, the case's own target
    allowed = known_items(retail.before(TRAIN_END), len(retail.catalogue))
    assert not allowed[retail.catalogue.skus.index("85185B")]


def test_recency_weighting_puts_frequent_recent_purchases_first():
    now = datetime(2011, 9, 1, tzinfo=UTC)
    purchases = [
        Purchase("NEW MUG", "Mugs", now - timedelta(days=1)),
        Purchase("OLD FAVOURITE", "Bags", now - timedelta(days=200)),
        Purchase("OLD FAVOURITE", "Bags", now - timedelta(days=210)),
        Purchase("STEADY BAG", "Bags", now - timedelta(days=20)),
        Purchase("STEADY BAG", "Bags", now - timedelta(days=30)),
    ]
    assert recency_weighted(purchases, now) == ["steady bag", "new mug", "old favourite"]
    text = purchase_history_text(purchases, now, query="cake stand")
    assert text.startswith("Favourite categories: Bags, Mugs. Searching for cake stand. Bought: steady bag; new mug")


def test_metrics_on_a_known_ranking():
    scores = np.array([[0.9, 0.8, 0.7, 0.1, 0.0]])
    allowed = np.array([True, True, True, True, False])
    report = evaluate(scores, [(1, 4)], allowed, np.zeros(5), k=2)
    assert report.recall == pytest.approx(0.5)  # product 4 is not allowed: a miss for every method
    assert report.ndcg == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert report.mrr == pytest.approx(0.5)
    assert report.coverage == pytest.approx(2 / 4)
