"""Build the PDF part of the sample document set in ``sample_docs/``.

The sample set describes "Northwind Robotics", a fictional company, so that the
RAG demo and the tests have a small, coherent corpus with clear answers. All
text was written for this project and is released under CC0-1.0.

This script generates only the PDFs; the Markdown, text and HTML files in
``sample_docs/`` are committed as they are. The PDF text lives below, in
``DOCUMENTS``. Output is deterministic (fixed creation date), so re-running the
script on an unchanged version of fpdf2 gives the same files.

Usage::

    python scripts/make_sample_docs.py             # writes into sample_docs/
    python scripts/make_sample_docs.py --out DIR   # writes into DIR

Only the core PDF font (Helvetica) is used, so every string must be latin-1:
no curly quotes, no em dashes, no other Unicode punctuation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "sample_docs"

# A fixed date keeps the generated files byte-stable between runs.
CREATION_DATE = dt.datetime(2024, 9, 2, 12, 0, 0, tzinfo=dt.UTC)

FONT = "Helvetica"
LINE_HEIGHT = 5.5


# --------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table drawn with cell borders; the first row is the header."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    col_widths: tuple[int, ...]
    caption: str = ""


Block = str | Bullets | Table


@dataclass(frozen=True)
class Section:
    """A numbered heading followed by blocks of content."""

    heading: str
    blocks: tuple[Block, ...]
    new_page: bool = False


@dataclass(frozen=True)
class Document:
    """One PDF file of the sample set."""

    filename: str
    title: str
    subtitle: str
    footer_label: str
    sections: tuple[Section, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------
# Content: Employee handbook
# --------------------------------------------------------------------------

EMPLOYEE_HANDBOOK = Document(
    filename="employee_handbook.pdf",
    title="Employee Handbook",
    subtitle="Version 3.2 - effective 1 March 2024 - owner: People & Culture team",
    footer_label="Northwind Robotics - Employee Handbook v3.2",
    sections=(
        Section(
            "1. About this handbook",
            (
                "This handbook describes the policies that apply to all employees of "
                "Northwind Robotics B.V. working from our offices in Rotterdam, Eindhoven "
                "and Tilburg. Employees of Northwind Robotics Inc. in Austin, Texas, have a "
                "separate US supplement, but the code of conduct in section 8 applies to "
                "everyone in the company.",
                "Questions about this handbook go to the People & Culture team at "
                "people@northwind-robotics.example. Policies are reviewed once a year, in "
                "January; the People & Culture team announces changes at least 30 days "
                "before they take effect. Where this handbook and your employment contract "
                "differ, your contract applies.",
            ),
        ),
        Section(
            "2. Working hours",
            (
                "A full-time working week is 38 hours. Most teams work flexible hours: you "
                "can start between 07:30 and 10:00, as long as you are available during the "
                "core hours of 10:00 to 15:00 on working days. Employees in the Tilburg "
                "service centre and in customer support work in shifts; their rosters are "
                "published at least 3 weeks in advance.",
                "Overtime must be agreed with your manager beforehand. Approved overtime is "
                "compensated with time off at a rate of 1 hour for each hour worked, or 1.5 "
                "hours for each hour worked on a Sunday or public holiday. Overtime hours "
                "not taken as time off within 3 months are paid out with the next salary.",
            ),
        ),
        Section(
            "3. Annual leave",
            (
                "Full-time employees receive 25 days of paid annual leave per calendar year, "
                "in addition to the Dutch public holidays. Part-time employees receive leave "
                "in proportion to their contracted hours. Employees with 10 or more years of "
                "service receive 2 extra days of leave per year.",
                Bullets(
                    (
                        "Request leave in PeopleHub, the HR system. Leave of up to 3 days needs "
                        "at least 5 working days' notice; longer leave needs at least 4 weeks' "
                        "notice.",
                        "Your manager approves or declines a request within 5 working days. "
                        "A request not answered in time may be escalated to People & Culture.",
                        "You may carry over at most 5 unused days to the next year. Carried-over "
                        "days must be taken before 1 July of that year, or they expire.",
                        "Every employee must take at least 2 consecutive weeks of leave once a "
                        "year, so that they have a real break.",
                        "During the company-wide closure between Christmas and New Year (3 "
                        "working days in most years), leave is deducted from your balance.",
                    )
                ),
                "Unused annual leave is paid out only when your employment ends. When you "
                "leave the company, days taken beyond your pro-rata entitlement are deducted "
                "from your final salary.",
            ),
        ),
        Section(
            "4. Sick leave",
            (
                "If you are ill, inform your manager by phone or chat before 09:30 on your "
                "first day of absence, and register the absence in PeopleHub the same day. "
                "You do not have to tell your manager what the illness is. For absences "
                "longer than 7 calendar days the company's occupational health service, "
                "HealthPoint Arbo, will contact you.",
                "Northwind Robotics pays 100% of your salary during the first year of "
                "illness and 70% during the second year, as required by Dutch law. Please "
                "report your recovery to your manager on the day you return.",
            ),
        ),
        Section(
            "5. Parental and family leave",
            (
                "Northwind Robotics offers parental leave that goes beyond the legal "
                "minimum. It applies equally to birth, adoption and foster care, and to "
                "parents of any gender.",
                Bullets(
                    (
                        "Birth parent: 16 weeks of pregnancy and maternity leave at full pay, "
                        "as provided by law, followed by an extra 4 weeks at full pay paid by "
                        "the company.",
                        "Partner leave: 6 weeks at full pay, to be taken within 6 months after "
                        "the birth or adoption. The first week may be taken at any moment in "
                        "the first 4 weeks.",
                        "Paid parental leave: 9 weeks in the first year after birth, of which "
                        "the company tops up the statutory benefit to 100% of salary.",
                        "Unpaid parental leave: up to 17 further weeks per child, until the child turns 8.",
                    )
                ),
                "To be eligible for the company top-ups you must have been employed for at "
                "least 6 months on the expected date of birth or adoption. Please tell "
                "People & Culture about planned leave at least 12 weeks in advance, so that "
                "your manager can arrange cover.",
                "Other family leave: 5 working days of paid bereavement leave for the death "
                "of a partner, child, parent or sibling (2 days for other relatives); 1 day "
                "for your own wedding or registered partnership; and up to 10 days per year "
                "of short-term care leave at 70% of salary to care for a sick family member.",
            ),
        ),
        Section(
            "6. Remote and hybrid work",
            (
                "Northwind Robotics is a hybrid company. Employees in roles marked "
                "'hybrid' in PeopleHub may work from home for up to 3 days per week. "
                "Tuesday and Thursday are anchor days: on those days every hybrid team "
                "works from its home office so that meetings, planning and demos happen "
                "in person. Lab, service centre and support shift roles are on site.",
                Bullets(
                    (
                        "Home working equipment: on request, the company provides a laptop, a "
                        "monitor, a keyboard and a headset. A one-off allowance of EUR 600 is "
                        "paid for a desk and chair.",
                        "Working-from-home allowance: EUR 2.35 per day worked from home, paid "
                        "monthly with your salary and registered in PeopleHub.",
                        "Working from abroad: with your manager's approval you may work from "
                        "another country for up to 20 working days per calendar year. Working "
                        "from outside the EU and EEA also needs approval from the Security "
                        "team, because of the data rules in the Information Security Policy.",
                        "Your home workplace must meet the same safety and confidentiality "
                        "standards as the office: lock your screen when you walk away, and "
                        "never take calls about confidential topics in public places.",
                    )
                ),
            ),
        ),
        Section(
            "7. Travel and expenses",
            (
                "Business expenses are reimbursed when they are necessary for your work, "
                "reasonable in cost, and approved. Submit claims in Ledgerly, the expense "
                "app, within 60 days of the expense; older claims are not reimbursed. A "
                "receipt is required for every expense above EUR 25. Approved claims are "
                "paid with the next monthly salary.",
                Bullets(
                    (
                        "Approval: your manager approves claims up to EUR 1,000. Claims above "
                        "EUR 1,000 also need approval from your department director.",
                        "Meals while travelling: up to EUR 45 per day within the Netherlands "
                        "and up to EUR 70 per day abroad, including tips. Alcohol is not "
                        "reimbursed, except at client dinners approved in advance.",
                        "Hotels: up to EUR 160 per night, or EUR 240 per night in London, "
                        "Paris, New York and San Francisco. Book through the travel portal "
                        "TripDesk whenever possible.",
                        "Flights: economy class for flights under 6 hours; premium economy for "
                        "flights of 6 hours or longer. Business class is never reimbursed.",
                        "Trains are preferred over flights for trips under 700 km, including "
                        "Rotterdam to Paris, London and Frankfurt.",
                        "Private car: EUR 0.23 per kilometre, plus parking and tolls.",
                    )
                ),
                "Each employee also has a learning budget of EUR 1,500 per calendar year for "
                "courses, conferences and books related to their work. Training costs are "
                "claimed in Ledgerly like other expenses.",
            ),
        ),
        Section(
            "8. Code of conduct",
            (
                "We expect everyone at Northwind Robotics to act with honesty, respect and "
                "care, towards colleagues, customers, suppliers and the public.",
                Bullets(
                    (
                        "Respect: we do not tolerate harassment, bullying or discrimination of "
                        "any kind, on any channel, at work or at company events.",
                        "Gifts and hospitality: you may accept gifts from business partners "
                        "worth up to EUR 50 per partner per year. Anything of higher value "
                        "must be declined or reported to the Compliance Officer within 5 "
                        "working days.",
                        "Conflicts of interest: declare any side activity, investment or "
                        "family relationship that could influence your decisions to your "
                        "manager and the Compliance Officer within 14 days of it arising.",
                        "Confidentiality: company information is handled according to its "
                        "classification level, as described in the Information Security "
                        "Policy.",
                        "Safe products: if you suspect that a product could be unsafe, report "
                        "it at once to the Product Safety Board, even if you are not sure.",
                    )
                ),
                "Speaking up: you can report suspected misconduct to your manager, to People "
                "& Culture, to the Compliance Officer, Marieke Bakker, or anonymously through "
                "the SpeakUp line (phone 0800-555-0123 or speakup.northwind-robotics.example). "
                "Reports are acknowledged within 7 days. Northwind Robotics does not tolerate "
                "retaliation against anyone who raises a concern in good faith.",
            ),
        ),
        Section(
            "9. Probation and notice periods",
            (
                "New employees have a probation period of 2 months for permanent contracts "
                "and 1 month for fixed-term contracts longer than 6 months. During "
                "probation either side may end the contract with immediate effect.",
                "After probation, the notice period for an employee who resigns is 1 month. "
                "Employees at director level and above have a notice period of 3 months. "
                "Resignations are submitted in writing to your manager, with a copy to "
                "People & Culture.",
            ),
        ),
    ),
)


# --------------------------------------------------------------------------
# Content: RX-200 user manual
# --------------------------------------------------------------------------

RX200_ERROR_CODES: tuple[tuple[str, str, str], ...] = (
    (
        "E01",
        "Left drive wheel stuck",
        "Lift the robot, remove hair and debris from the left "
        "wheel, and check that the wheel turns and springs back freely.",
    ),
    (
        "E02",
        "Right drive wheel stuck",
        "Lift the robot, remove hair and debris from the right "
        "wheel, and check that the wheel turns and springs back freely.",
    ),
    (
        "E03",
        "Main brush jammed",
        "Remove the main brush, cut away tangled hair with the cleaning tool, clean both end caps and refit the brush.",
    ),
    (
        "E04",
        "Side brush jammed",
        "Unscrew the side brush, remove wrapped hair or thread from the shaft and refit the brush.",
    ),
    (
        "E05",
        "Cliff sensors dirty or blocked",
        "Wipe the four cliff sensors on the underside with a dry, soft cloth. Do not use liquids.",
    ),
    ("E06", "Bumper stuck", "Tap the front bumper gently several times and remove anything wedged behind it."),
    ("E07", "Dustbin missing", "Insert the dustbin until it clicks into place."),
    (
        "E08",
        "Battery temperature out of range",
        "Move the robot to a room between 0 and 40 degrees C and wait 30 minutes before cleaning again.",
    ),
    (
        "E09",
        "Charging error",
        "Clean the charging contacts on the robot and the dock with a "
        "dry cloth. Check that the dock is plugged in and its light is on.",
    ),
    (
        "E10",
        "Laser distance sensor blocked",
        "Remove any object on top of the robot and check that the sensor turret turns freely.",
    ),
    (
        "E11",
        "Robot lifted or trapped",
        "Place the robot on a flat floor away from obstacles and press the Power button to restart.",
    ),
    (
        "E12",
        "Wi-Fi connection failed",
        "Make sure the router broadcasts a 2.4 GHz network, then pair again as described in section 3.3.",
    ),
)

RX200_USER_MANUAL = Document(
    filename="rx200_user_manual.pdf",
    title="RX-200 Robot Vacuum - User Manual",
    subtitle="Model NWR-RX200 - for firmware 2.x - document revision C (2024)",
    footer_label="Northwind Robotics - RX-200 User Manual",
    sections=(
        Section(
            "1. Important safety instructions",
            (
                "Read all instructions before using the RX-200 and keep this manual for "
                "future reference. Failure to follow these instructions may cause fire, "
                "electric shock or injury, and is not covered by the warranty.",
                Bullets(
                    (
                        "Use the robot indoors only, on dry floors. Never use it outdoors, in "
                        "bathrooms with wet floors, or to pick up liquids.",
                        "Operate the robot at room temperatures between 0 and 40 degrees C. "
                        "Charge it only between 4 and 35 degrees C.",
                        "Use only the dock (model NWR-D20) and the power adapter supplied with "
                        "the robot. The adapter accepts 100-240 V AC.",
                        "Before cleaning, pick up cords, curtain tassels, socks and small "
                        "objects such as toy bricks from the floor.",
                        "Do not sit or stand on the robot, and do not let children or pets "
                        "ride on it. Children under 8 must be supervised near the robot.",
                        "Never look directly into the laser distance sensor on top of the "
                        "robot. It is a Class 1 laser product and is safe in normal use.",
                        "Stop using the robot and contact Northwind support if the battery "
                        "swells, the robot smells of burning, or it becomes hot to the touch.",
                        "Remove the battery before disposing of the robot, and take both to a "
                        "collection point for electronic waste.",
                    )
                ),
            ),
        ),
        Section(
            "2. What is in the box",
            (
                Bullets(
                    (
                        "RX-200 robot vacuum with pre-installed 5,200 mAh lithium-ion battery",
                        "Charging dock NWR-D20 and power adapter",
                        "2 side brushes (1 spare)",
                        "1 spare HEPA filter",
                        "Cleaning tool with brush and hair cutter",
                        "Quick start guide and this user manual",
                    )
                ),
                "Technical specifications: weight 3.6 kg; diameter 35 cm; height 9.4 cm; "
                "dustbin capacity 0.6 litres; maximum suction 4,000 Pa; runtime up to 150 "
                "minutes on hard floors in Standard mode; noise level 58 dB in Standard "
                "mode; Wi-Fi 2.4 GHz (802.11 b/g/n). The 5 GHz band is not supported.",
            ),
        ),
        Section(
            "3. Setting up your robot",
            (
                "3.1 Placing the dock. Place the dock on a hard, level floor against a wall, "
                "within reach of a power socket. Keep at least 0.5 metres of free space on "
                "both sides of the dock and 1.5 metres in front of it. Do not place the dock "
                "in direct sunlight or within 1 metre of stairs.",
                "3.2 First charge. Remove the protective foam from the bumper and the "
                "transport strips from the side brush. Switch the robot on by pressing the "
                "Power switch on its side, then place it on the dock. Charge it fully before "
                "the first run; the first charge takes about 6 hours.",
                "3.3 Connecting to the Northwind Home app. Install the Northwind Home app "
                "(Android 9 or later, iOS 15 or later) and create an account. Press and hold "
                "the Home and Spot buttons together for 5 seconds until the status light "
                "blinks blue and the robot says 'Ready to pair'. In the app, tap Add Device "
                "and follow the instructions. Pairing times out after 10 minutes.",
                "3.4 The first map. On its first run the robot explores the home and builds "
                "a map, which takes 20 to 40 minutes for an average home. Open all interior "
                "doors for this run. After the map is saved you can name rooms, draw no-go "
                "zones and set schedules in the app.",
            ),
        ),
        Section(
            "4. Using and charging the robot",
            (
                "Press the Power button once to start a full clean, or press the Spot button "
                "to clean a 1.5 by 1.5 metre area around the robot. Press any button to "
                "pause. Press the Home button to send the robot back to the dock.",
                "The RX-200 has four suction levels: Quiet, Standard, Strong and Max. At Max "
                "the runtime drops to about 70 minutes. On carpet, Carpet Boost raises "
                "suction automatically if it is enabled in the app.",
                "Charging. A full charge from empty takes about 4 hours. When the battery "
                "falls to 15% during a job, the robot returns to the dock by itself, charges "
                "to 80%, and then resumes the job where it stopped.",
                Bullets(
                    (
                        "Status light pulsing amber: charging.",
                        "Status light solid white: fully charged or ready.",
                        "Status light blinking red: battery below 15%, or an error. Check the app for the error code.",
                        "Status light blinking blue: ready to pair with the app.",
                    )
                ),
                "If you will not use the robot for more than 1 month, charge it to about 50%, "
                "switch it off with the Power switch and store it in a cool, dry place. "
                "Recharge it at least every 3 months so the battery does not discharge "
                "completely.",
            ),
        ),
        Section(
            "5. Error codes and troubleshooting",
            (
                "When the robot detects a problem it stops, the status light blinks red, "
                "and it announces the error. The app shows the error code with a short "
                "explanation. The table below lists all error codes of the RX-200 and what "
                "to do for each of them.",
                Table(
                    header=("Code", "Meaning", "What to do"),
                    rows=RX200_ERROR_CODES,
                    col_widths=(14, 48, 108),
                    caption="Table 1: RX-200 error codes",
                ),
                "If an error persists after you have followed the steps in Table 1, reset "
                "the robot: hold the Power button for 15 seconds until the status light "
                "turns off, wait 10 seconds and switch the robot on again. A reset does not "
                "delete your maps or schedules. A factory reset, which deletes all maps, is "
                "done by holding the Home, Spot and Power buttons together for 10 seconds.",
                "If the error returns after a reset, contact Northwind support and quote "
                "the error code and the serial number printed on the label under the "
                "dustbin.",
            ),
            new_page=True,
        ),
        Section(
            "6. Care and maintenance",
            (
                "Regular maintenance keeps suction strong and prevents most errors. Switch "
                "the robot off before any maintenance.",
                Bullets(
                    (
                        "Dustbin: empty after every run. Rinse it with water once a month and "
                        "let it dry for 24 hours before refitting.",
                        "HEPA filter: tap it clean every week. Never wash the filter with "
                        "water. Replace it every 3 months.",
                        "Main brush: remove hair every week, or twice a week in homes with "
                        "pets. Replace it every 6 to 12 months.",
                        "Side brushes: clean every month. Replace them every 3 to 6 months, "
                        "or sooner if the bristles are bent.",
                        "Cliff sensors and charging contacts: wipe them with a dry cloth every month.",
                        "Drive wheels: check for hair and threads every month.",
                        "Battery: the battery lasts about 500 full charge cycles. Replacement "
                        "batteries (part NWR-B52) can be fitted at home with a screwdriver.",
                    )
                ),
                "Genuine replacement parts are sold in the Northwind Robotics online store "
                "and in the Northwind Home app under Shop. Using third-party filters may "
                "reduce suction and cause error E09 or E03 more often.",
            ),
        ),
    ),
)


# --------------------------------------------------------------------------
# Content: Information security policy
# --------------------------------------------------------------------------

SECURITY_POLICY = Document(
    filename="security_policy.pdf",
    title="Information Security Policy",
    subtitle="Policy ISP-01 - version 2.0 - approved 15 January 2024 - owner: CISO",
    footer_label="Northwind Robotics - Information Security Policy ISP-01",
    sections=(
        Section(
            "1. Purpose and scope",
            (
                "This policy protects the information of Northwind Robotics, its customers "
                "and its partners. It applies to all employees, contractors and interns, to "
                "all company devices, and to any personal device used for company work. The "
                "Chief Information Security Officer (CISO), Daniel Osei, owns this policy "
                "and reviews it at least once a year.",
                "Breaking this policy may lead to disciplinary action, up to and including "
                "dismissal. If you cannot comply with a rule, ask the Security team for an "
                "exception before you act; exceptions are granted in writing for at most "
                "6 months.",
            ),
        ),
        Section(
            "2. Passwords and authentication",
            (
                Bullets(
                    (
                        "Passwords for company accounts must be at least 14 characters long. "
                        "We recommend passphrases of four or more random words.",
                        "Never reuse a company password for any other account, and never "
                        "share a password with anyone, including the IT service desk.",
                        "Store passwords only in the company password manager, KeyHaven. "
                        "Writing passwords on paper or in documents is not allowed.",
                        "Multi-factor authentication (MFA) is mandatory for every company "
                        "account. Use the Authenticator app or a hardware security key; SMS "
                        "codes are not allowed. Administrators must use a hardware key.",
                        "Passwords do not expire on a schedule. Change a password at once if "
                        "you suspect it has been exposed, and report the suspicion as a "
                        "security incident.",
                        "After 10 failed login attempts an account is locked for 15 minutes.",
                        "Devices lock automatically after 5 minutes of inactivity. Lock your "
                        "screen yourself (Windows key + L, or Control + Command + Q on a "
                        "Mac) whenever you leave your device.",
                    )
                ),
                "Service accounts and API keys are stored in the secrets vault, never in "
                "source code or configuration files. Keys are rotated every 90 days and "
                "whenever someone with access leaves the company.",
            ),
        ),
        Section(
            "3. Data classification",
            (
                "All company information is classified by its owner into one of four levels. "
                "If you are unsure, treat the information as Confidential and ask the owner. "
                "Documents must show their level in the header or footer, except for Public "
                "information.",
                Table(
                    header=("Level", "Examples", "Handling rules"),
                    rows=(
                        (
                            "Public",
                            "Marketing website, published user manuals, press releases",
                            "No restrictions. Only Marketing and Communications may publish new public information.",
                        ),
                        (
                            "Internal",
                            "Employee handbook, org charts, internal wiki, meeting notes",
                            "Share only with employees and contractors. Do not post outside company systems.",
                        ),
                        (
                            "Confidential",
                            "Customer contracts, supplier prices, unreleased product plans, source code",
                            "Share only on a need-to-know basis. "
                            "Encrypt when sent outside the company. Use approved storage only.",
                        ),
                        (
                            "Restricted",
                            "Customer personal data, home maps from robots, payroll data, security keys",
                            "Named people only, approved by the "
                            "data owner. Always encrypted. Never on removable media or "
                            "personal devices.",
                        ),
                    ),
                    col_widths=(28, 62, 80),
                    caption="Table 1: Data classification levels",
                ),
                "Home maps and camera-free sensor data uploaded by RX-200 robots are "
                "Restricted because they reveal the layout of customers' homes. They are "
                "stored only in the EU region of our cloud provider and are deleted 30 days "
                "after a customer deletes their account.",
                "Restricted and Confidential information may not be pasted into external AI "
                "tools or translation websites. Use only the tools listed as approved on the "
                "Security team's intranet page.",
            ),
        ),
        Section(
            "4. Devices and networks",
            (
                Bullets(
                    (
                        "Company laptops have full-disk encryption and endpoint protection. Do not disable them.",
                        "Install operating system and security updates within 7 days of "
                        "release; critical updates within 48 hours.",
                        "Personal phones may be used for company email and chat only after "
                        "enrolment in the mobile device management system.",
                        "On public Wi-Fi, always connect through the company VPN.",
                        "USB storage devices are blocked on company laptops. Request an "
                        "exception from the Security team if your work requires one.",
                        "Report a lost or stolen device to the IT service desk within 1 hour, "
                        "so it can be wiped remotely.",
                    )
                ),
            ),
        ),
        Section(
            "5. Incident response",
            (
                "A security incident is any event that threatens the confidentiality, "
                "integrity or availability of company or customer information: for example "
                "a phishing email that you clicked, a lost laptop, malware, or data sent to "
                "the wrong person. Report every suspected incident within 1 hour of noticing "
                "it, by email to security@northwind-robotics.example or by phone to the "
                "Security hotline on extension 4444 (+31 10 555 4444 from outside). Do not "
                "try to investigate on your own and do not delete evidence.",
                "The Security team handles each incident in six steps:",
                Bullets(
                    (
                        "Step 1 - Report and triage: the on-call security engineer confirms "
                        "the incident and assigns a severity level.",
                        "Step 2 - Contain: limit the damage, for example by isolating a "
                        "device, locking accounts or revoking keys.",
                        "Step 3 - Investigate: find the cause, the affected systems and the "
                        "affected data, and preserve evidence.",
                        "Step 4 - Eradicate and recover: remove the cause and restore systems from clean backups.",
                        "Step 5 - Notify: inform affected customers and, where required by "
                        "the GDPR, the Dutch Data Protection Authority within 72 hours of "
                        "becoming aware of a personal data breach. The Data Protection "
                        "Officer decides on notifications.",
                        "Step 6 - Review: hold a blameless post-incident review within 10 "
                        "working days and track the follow-up actions to completion.",
                    )
                ),
                "Severity levels: SEV1 (critical, e.g. customer data exposed or robots "
                "unable to connect across a region) requires a response within 15 minutes, "
                "at any time of day; SEV2 (high) within 1 hour; SEV3 (medium) within 1 "
                "business day; SEV4 (low) within 5 business days. SEV1 incidents are "
                "reported to the CEO immediately.",
            ),
        ),
        Section(
            "6. Training",
            (
                "Every employee completes security awareness training within 30 days of "
                "joining and a refresher course every year. The Security team runs phishing "
                "simulations every quarter; employees who click a simulated phishing link "
                "are asked to repeat a short training module.",
            ),
        ),
    ),
)

DOCUMENTS: tuple[Document, ...] = (EMPLOYEE_HANDBOOK, RX200_USER_MANUAL, SECURITY_POLICY)


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


class SamplePDF(FPDF):
    """FPDF with the running header and page-numbered footer of the sample set."""

    def __init__(self, header_text: str, footer_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_text = header_text
        self.footer_label = footer_label
        self.set_margins(left=20, top=20, right=20)
        self.set_auto_page_break(auto=True, margin=22)

    def header(self) -> None:
        self.set_font(FONT, "I", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 6, self.header_text, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, f"{self.footer_label} - Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def check_latin1(document: Document) -> None:
    """Fail early if any text cannot be drawn with the core Helvetica font."""

    def texts() -> list[str]:
        found = [document.title, document.subtitle, document.footer_label]
        for section in document.sections:
            found.append(section.heading)
            for block in section.blocks:
                if isinstance(block, str):
                    found.append(block)
                elif isinstance(block, Bullets):
                    found.extend(block.items)
                else:
                    found.extend(block.header)
                    found.append(block.caption)
                    found.extend(cell for row in block.rows for cell in row)
        return found

    for text in texts():
        try:
            text.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{document.filename}: non latin-1 text: {text!r}") from exc


def render_title(pdf: SamplePDF, document: Document) -> None:
    pdf.set_font(FONT, "B", 20)
    pdf.multi_cell(0, 10, document.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(80, 80, 80)
    pdf.multi_cell(0, 6, document.subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)


def render_heading(pdf: SamplePDF, heading: str) -> None:
    # Keep a heading together with at least a few lines of its first block.
    if pdf.get_y() > pdf.h - pdf.b_margin - 30:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT, "B", 13)
    pdf.set_text_color(11, 93, 140)
    pdf.multi_cell(0, 8, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1)


def render_paragraph(pdf: SamplePDF, text: str) -> None:
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, LINE_HEIGHT, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def render_bullets(pdf: SamplePDF, bullets: Bullets) -> None:
    pdf.set_font(FONT, "", 10)
    indent = 6.0
    for item in bullets.items:
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(indent - 2, LINE_HEIGHT, "-")
        pdf.multi_cell(0, LINE_HEIGHT, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(1)


def estimate_table_height(pdf: SamplePDF, table: Table, line_height: float, padding: float) -> float:
    """Roughly estimate the rendered height of ``table`` in mm (font must be set)."""
    total = 0.0
    for values in (table.header, *table.rows):
        lines = max(
            max(1, math.ceil(pdf.get_string_width(value) / (width - 2 * padding - 1)))
            for value, width in zip(values, table.col_widths, strict=True)
        )
        total += lines * line_height + 2 * padding
    return total


def render_table(pdf: SamplePDF, table: Table) -> None:
    line_height, padding = 5.0, 1.5
    pdf.set_font(FONT, "", 9)
    # Start a new page rather than split a table that fits on one page.
    needed = estimate_table_height(pdf, table, line_height, padding) + 10
    available = pdf.h - pdf.b_margin - pdf.get_y()
    usable = pdf.h - pdf.b_margin - pdf.t_margin - 10
    if available < needed < usable:
        pdf.add_page()
    if table.caption:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(0, 7, table.caption, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.set_draw_color(0, 0, 0)
    with pdf.table(
        col_widths=table.col_widths,
        width=sum(table.col_widths),
        text_align="LEFT",
        borders_layout="ALL",
        line_height=line_height,
        padding=padding,
        headings_style=FontFace(emphasis="BOLD", fill_color=(220, 232, 242)),
        first_row_as_headings=True,
    ) as pdf_table:
        for values in (table.header, *table.rows):
            row = pdf_table.row()
            for value in values:
                row.cell(value)
    pdf.ln(4)


def render_block(pdf: SamplePDF, block: Block) -> None:
    if isinstance(block, str):
        render_paragraph(pdf, block)
    elif isinstance(block, Bullets):
        render_bullets(pdf, block)
    else:
        render_table(pdf, block)


def build_pdf(document: Document, out_dir: Path) -> Path:
    """Render one document to ``out_dir`` and return the path written."""
    check_latin1(document)
    pdf = SamplePDF(header_text=f"Northwind Robotics - {document.title}", footer_label=document.footer_label)
    pdf.set_title(document.title)
    pdf.set_author("Northwind Robotics (fictional; sample content, CC0-1.0)")
    pdf.set_subject(document.subtitle)
    pdf.set_creator("scripts/make_sample_docs.py")
    pdf.set_creation_date(CREATION_DATE)
    pdf.add_page()
    render_title(pdf, document)
    for section in document.sections:
        if section.new_page:
            pdf.add_page()
        render_heading(pdf, section.heading)
        for block in section.blocks:
            render_block(pdf, block)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / document.filename
    pdf.output(str(path))
    return path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help=f"output folder (default: {DEFAULT_OUT_DIR})")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for document in DOCUMENTS:
        path = build_pdf(document, args.out)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
