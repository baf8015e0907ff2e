// The one main() shared by every unit test executable (Catch2 v2).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
