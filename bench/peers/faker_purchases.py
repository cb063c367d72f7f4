"""Peer of weir's purchases generator: what the original pipeline did — purchase
events made with Faker, serialised as JSON and produced with confluent-kafka
(idempotent, acks=all, zstd), keyed by customer id.

    python faker_purchases.py BOOTSTRAP TOPIC COUNT
"""

import json
import random
import sys
import uuid
from datetime import datetime, timezone

from faker import Faker
from producer import PeerProducer

SEGMENTS = ["new", "regular", "vip"]
CATEGORIES = {"electronics": (49.0, 1999.0), "books": (5.0, 60.0), "clothing": (10.0, 250.0),
              "home": (8.0, 900.0), "sports": (12.0, 600.0)}
PAYMENTS = ["credit_card", "debit_card", "paypal", "apple_pay", "bank_transfer"]
SOURCES = ["web", "mobile_app", "store"]
DEVICES = ["desktop", "mobile", "tablet"]
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "JPY"]


def event(fake: Faker) -> dict:
    category = random.choice(list(CATEGORIES))
    low, high = CATEGORIES[category]
    quantity = random.randint(1, 5)
    unit_price = round(random.uniform(low, high), 2)
    discount = random.choice([0, 0, 0, 5, 10, 15])
    total = round(quantity * unit_price * (1 - discount / 100), 2)
    return {
        "event_id": str(uuid.uuid4()),
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "customer_id": f"C{random.randint(1, 1000):05d}",
        "customer_segment": random.choice(SEGMENTS),
        "product_id": f"P{random.randint(1, 5000):05d}",
        "product_name": fake.catch_phrase(),
        "product_category": category,
        "quantity": quantity,
        "unit_price": unit_price,
        "total_amount": total,
        "currency": random.choice(CURRENCIES),
        "payment_method": random.choice(PAYMENTS),
        "order_source": random.choice(SOURCES),
        "location": {"country": fake.country_code(), "city": fake.city()},
        "discount_percentage": discount,
        "is_new_customer": random.random() < 0.2,
        "device_type": random.choice(DEVICES),
    }


def main() -> None:
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fake = Faker()
    Faker.seed(11)
    random.seed(11)
    p = PeerProducer(bootstrap, topic, 3)
    for _ in range(count):
        e = event(fake)
        p.send(json.dumps(e).encode(), e["customer_id"].encode())
    p.finish()


if __name__ == "__main__":
    main()
