DROP TABLE instruments;
DROP TABLE units;
DROP TABLE categories;
DROP TABLE sub_platforms;
